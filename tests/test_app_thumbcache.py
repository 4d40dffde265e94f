"""The freedesktop thumbnail cache (app/thumbcache.py): plain PIL, no Qt."""

from __future__ import annotations

import os
import stat

from PIL import Image, PngImagePlugin

from clippo_desktop.app.thumbcache import ThumbCache, file_uri, thumbnail_name


def _photo(path, size=(640, 480), colour=(200, 30, 30)):
    Image.new("RGB", size, colour).save(path, quality=90)
    return path


def test_file_uri_escapes_like_glib(tmp_path):
    p = tmp_path / "My Photos" / "café #1.jpg"
    uri = file_uri(p)
    assert uri.startswith("file:///")
    assert "My%20Photos/caf%C3%A9%20%231.jpg" in uri
    assert thumbnail_name(p).endswith(".png") and len(thumbnail_name(p)) == 36


def test_thumbnail_is_written_with_spec_chunks_and_private_permissions(tmp_path):
    photo = _photo(tmp_path / "a.jpg")
    cache = ThumbCache(tmp_path / "thumbs")
    im = cache.get(photo)
    assert max(im.size) == 128
    stored = cache.cached_path(photo)
    assert stored.name == thumbnail_name(photo)
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(stored.parent).st_mode) == 0o700
    with Image.open(stored) as png:
        assert png.text["Thumb::URI"] == file_uri(photo)
        assert png.text["Thumb::MTime"] == str(int(os.stat(photo).st_mtime))
    assert not [p for p in stored.parent.iterdir() if p.name.startswith(".clippo-")]


def test_another_apps_thumbnail_is_used_when_its_mtime_matches(tmp_path):
    photo = _photo(tmp_path / "b.jpg")
    cache = ThumbCache(tmp_path / "thumbs")
    (tmp_path / "thumbs" / "large").mkdir(parents=True)
    info = PngImagePlugin.PngInfo()
    info.add_text("Thumb::URI", file_uri(photo))
    info.add_text("Thumb::MTime", str(int(os.stat(photo).st_mtime)))
    Image.new("RGB", (256, 192), (0, 0, 255)).save(cache.cached_path(photo, "large"), pnginfo=info)
    im = cache.get(photo, "large")
    assert im.convert("RGB").getpixel((5, 5)) == (0, 0, 255)     # theirs, not a fresh red one


def test_a_stale_thumbnail_is_regenerated_after_the_photo_changes(tmp_path):
    photo = _photo(tmp_path / "c.jpg", colour=(0, 200, 0))
    cache = ThumbCache(tmp_path / "thumbs")
    cache.get(photo)
    _photo(photo, colour=(250, 250, 0))
    os.utime(photo, (os.stat(photo).st_atime, os.stat(photo).st_mtime + 10))
    assert cache.lookup(photo) is None
    r, g, b = cache.get(photo).convert("RGB").getpixel((10, 10))
    assert r > 200 and g > 200 and b < 60
