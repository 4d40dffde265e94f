"""Thumbnail cache shared with the desktop: the freedesktop.org thumbnail spec, no Qt.

On Linux (and other XDG desktops) thumbnails live in `$XDG_CACHE_HOME/thumbnails/{normal,large}/`
(128 and 256 px), named by the MD5 of the file's URI, as PNGs carrying `Thumb::URI` and
`Thumb::MTime` text chunks. File managers and photo tools read and write the same folder, so a
photo someone else already thumbnailed costs one small PNG read, and ours help them in turn.
A cached thumbnail is used only when its `Thumb::URI` matches and its `Thumb::MTime` equals the
file's current mtime (whole seconds); otherwise it is regenerated. Ours are written atomically
(temp file in the same folder, then rename) with 0600 permissions, in 0700 folders, as the spec
asks. Elsewhere (Windows, macOS) the same layout lives under the app's own cache directory
(`engine.paths.cache_dir()/thumbnails`).

Everything here runs on worker threads (app/tasks.py); it is plain PIL and testable without Qt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote_from_bytes

from PIL import Image, PngImagePlugin

from clippo_desktop.engine.imageio import read_thumbnail
from clippo_desktop.engine.paths import cache_dir

log = logging.getLogger(__name__)

SIZES = {"normal": 128, "large": 256}
# RFC 2396 reserved characters GLib leaves unescaped in a path, so our MD5 names match its.
_URI_SAFE = b"/!$&'()*+,;=:@"


def file_uri(path: str | os.PathLike) -> str:
    """`file:///abs/path` with the escaping GLib's g_filename_to_uri uses."""
    raw = os.fsencode(os.path.abspath(path))
    if os.name == "nt":   # C:\x -> file:///C:/x
        raw = b"/" + raw.replace(b"\\", b"/")
    return "file://" + quote_from_bytes(raw, safe=_URI_SAFE)


def thumbnail_name(path: str | os.PathLike) -> str:
    return hashlib.md5(file_uri(path).encode("ascii")).hexdigest() + ".png"


def default_root() -> Path:
    """The freedesktop thumbnail folder on XDG systems; our own cache folder elsewhere."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "thumbnails"
    return cache_dir() / "thumbnails"


class ThumbCache:
    """`ThumbCache().get(path, "normal")` -> an RGB(A) PIL image no larger than 128 px."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()

    def cached_path(self, path: str | os.PathLike, flavor: str = "normal") -> Path:
        return self.root / flavor / thumbnail_name(path)

    def lookup(self, path: str | os.PathLike, flavor: str = "normal") -> Image.Image | None:
        """A valid cached thumbnail (ours or another app's), or None."""
        try:
            mtime = int(os.stat(path).st_mtime)
        except OSError:
            return None
        thumb = self.cached_path(path, flavor)
        try:
            with Image.open(thumb) as im:
                info = dict(getattr(im, "text", {}) or {})
                if info.get("Thumb::URI") != file_uri(path):
                    return None
                if str(info.get("Thumb::MTime", "")).split(".")[0] != str(mtime):
                    return None
                im.load()
                return im.copy()
        except (OSError, ValueError, SyntaxError):
            return None

    def get(self, path: str | os.PathLike, flavor: str = "normal") -> Image.Image:
        """The thumbnail: from the cache when valid, else decoded, stored and returned.

        Raises engine.errors.ImageDecodeError when the photo cannot be decoded."""
        found = self.lookup(path, flavor)
        if found is not None:
            return found
        st = os.stat(path)
        image = read_thumbnail(path, SIZES[flavor])
        try:
            self.store(path, image, flavor, mtime=int(st.st_mtime), size=st.st_size)
        except OSError as exc:           # a cache we cannot write only makes us slower
            log.debug("cannot store thumbnail of %s: %s", path, exc)
        return image

    def store(self, path: str | os.PathLike, image: Image.Image, flavor: str = "normal", *,
              mtime: int, size: int | None = None) -> Path:
        """Write a thumbnail PNG atomically with the spec's text chunks; returns its path."""
        folder = self.root / flavor
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = PngImagePlugin.PngInfo()
        info.add_text("Thumb::URI", file_uri(path))
        info.add_text("Thumb::MTime", str(int(mtime)))
        if size is not None:
            info.add_text("Thumb::Size", str(int(size)))
        info.add_text("Software", "clippo-desktop")
        dest = folder / thumbnail_name(path)
        fd, tmp = tempfile.mkstemp(prefix=".clippo-", suffix=".png", dir=folder)
        try:
            os.chmod(tmp, 0o600)
            with os.fdopen(fd, "wb") as f:
                image.save(f, "PNG", pnginfo=info)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return dest
