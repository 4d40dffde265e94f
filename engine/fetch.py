"""Download the official CLIPPO checkpoints, resumably, and never count a partial file.

Only `model fetch` downloads anything, and only when the user asks: nothing in the app fetches
weights implicitly. The file grows as `NAME.npz.part`; an interrupted transfer resumes with an
HTTP Range request, the final size is checked against the server's total, and only then is the
file renamed to its final name.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import DownloadError, StorageFullError, UsageError

log = logging.getLogger(__name__)

OFFICIAL_URL = "https://storage.googleapis.com/big_vision/clippo/{name}.npz"
OFFICIAL_CHECKPOINTS = (
    "clippo_b16_yfcc100m",
    "clippo_b16_yfcc100m_i21k_init",
    "clippo_b16_yfcc100m_i21k_init_25c4",
    "clippo_b16_yfcc100m_i21k_init_50c4",
    "clippo_b16_yfcc100m_i21k_init_75c4",
    "clippo_b16_100c4",
)
CHUNK = 1 << 20


@dataclass
class DownloadProgress:
    done: int
    total: int | None
    resumed_from: int = 0


ProgressFn = Callable[[DownloadProgress], None]


def official_url(name: str) -> str:
    if name not in OFFICIAL_CHECKPOINTS:
        raise UsageError(f"{name!r} is not an official CLIPPO checkpoint.",
                         f"Choose one of: {', '.join(OFFICIAL_CHECKPOINTS)}, or pass --url.")
    return OFFICIAL_URL.format(name=name)


def _total_from_headers(status: int, headers, offset: int) -> int | None:
    if status == 206:
        m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", headers.get("Content-Range", ""))
        if not m or int(m.group(1)) != offset:
            raise DownloadError("The server answered a resume request with an unexpected range.",
                                "Delete the partial download and try again.")
        return None if m.group(3) == "*" else int(m.group(3))
    length = headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def download(url: str, dest: Path, *, expected_size: int | None = None, sha256: str | None = None,
             progress: ProgressFn | None = None, retries: int = 5, timeout: float = 30.0,
             backoff: float = 1.0) -> Path:
    """Download `url` to `dest`, resuming `dest.part` if present. Returns `dest`."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    total: int | None = expected_size
    attempt = 0
    while True:
        offset = part.stat().st_size if part.exists() else 0
        if total is not None and offset == total:
            break
        req = urllib.request.Request(url, headers={"User-Agent": "clippo-desktop"})
        if offset:
            req.add_header("Range", f"bytes={offset}-")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status = resp.status
                if offset and status == 200:  # server ignored Range: start over
                    log.info("server does not resume; restarting download")
                    offset = 0
                server_total = _total_from_headers(status, resp.headers, offset)
                if server_total is not None:
                    if total is not None and server_total != total:
                        raise DownloadError(f"The server reports {server_total} bytes for {url}, "
                                            f"expected {total}.", "Check the URL; the file may have changed.")
                    total = server_total
                with open(part, "ab" if offset else "wb") as f:
                    done = offset
                    if progress:
                        progress(DownloadProgress(done, total, resumed_from=offset))
                    while chunk := resp.read(CHUNK):
                        f.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(DownloadProgress(done, total, resumed_from=offset))
            if total is None or part.stat().st_size >= total:
                break
            raise ConnectionError("connection closed early")
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and total is None and offset:
                break  # we already have everything
            raise DownloadError(f"Download of {url} failed: HTTP {exc.code} {exc.reason}.",
                                "Check the name or URL and your connection.") from exc
        except (OSError, http.client.HTTPException, socket.timeout) as exc:
            if getattr(exc, "errno", None) == 28:
                raise StorageFullError(f"The disk filled up while downloading to {part}.",
                                       "Free some space; the download resumes where it stopped.") from exc
            attempt += 1
            if attempt > retries:
                raise DownloadError(f"Download of {url} kept failing ({exc}).",
                                    "Check your connection and run the same command again: it resumes.") from exc
            log.warning("download interrupted (%s); resuming (try %d of %d)", exc, attempt, retries)
            time.sleep(backoff * attempt)
    size = part.stat().st_size
    if total is not None and size != total:
        part.unlink()
        raise DownloadError(f"Downloaded {size} bytes but expected {total}.", "Run the command again.")
    if sha256 is not None:
        h = hashlib.sha256()
        with open(part, "rb") as f:
            while block := f.read(CHUNK):
                h.update(block)
        if h.hexdigest() != sha256:
            part.unlink()
            raise DownloadError(f"The downloaded file's sha256 does not match ({url}).",
                                "The file is damaged or was replaced; try again later.")
    os.replace(part, dest)
    return dest
