"""Real photo files for the indexing tests: good ones, hostile ones, awkward names.

Everything is generated with PIL / pillow-heif into a folder the test owns. Good photos are
smooth colour fields plus noise, different per seed, so their content hashes and embeddings
differ. Bad files cover every kind the indexer must survive (see `make_bad_files`).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

UNDECODABLE = os.fsdecode(b"caf\xe9-\xff.jpg")    # not valid UTF-8: a surrogate-escaped str


def pixels(seed: int, size: tuple[int, int] = (96, 72)) -> np.ndarray:
    """A photo-like uint8 (H, W, 3) image, different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)                         # (H, W)
    img = np.zeros((h, w, 3))
    for _ in range(4):
        fx, fy, ph = rng.uniform(0.5, 4, 2).tolist() + [rng.uniform(0, 6.3)]
        img += rng.uniform(-1, 1, 3) * np.sin(2 * np.pi * (fx * xx + fy * yy) + ph)[..., None]
    img += 0.1 * rng.standard_normal(img.shape)
    img = (img - img.min()) / (np.ptp(img) + 1e-9)
    return (img * 255).astype(np.uint8)


def write_photo(path: Path | str, seed: int, size: tuple[int, int] = (96, 72)) -> Path:
    """Write a real photo; the format follows the extension (.jpg/.jpeg/.png/.heic/...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels(seed, size))
    ext = path.suffix.lower()
    if ext in (".heic", ".heif"):
        import pillow_heif

        pillow_heif.register_heif_opener()
        image.save(path, format="HEIF", quality=80)
    elif ext in (".jpg", ".jpeg", ".jpe"):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = f"2021:0{1 + seed % 9}:1{seed % 10} 12:00:00"
        image.save(path, format="JPEG", quality=85, exif=exif)
    else:
        image.save(path)
    return path


def make_good_tree(root: Path, seed: int = 0) -> list[str]:
    """Real JPEG/PNG/HEIC photos in nested folders with unicode and undecodable names."""
    names = ["2021/summer/beach.jpg", "2021/summer/sunset.JPG", "2021/winter/snow.png",
             "2022/été/crème brûlée.jpeg", "2022/写真/猫.jpg", "2022/phone/IMG_0001.heic",
             "top.PNG", "deep/a/b/c/d/leaf.jpg", UNDECODABLE]
    out = []
    for i, name in enumerate(names):
        out.append(str(write_photo(root / name, seed + i)))
    return out


def make_skipped_files(root: Path) -> list[str]:
    """Files the walk must never index: hidden/system folders, AppleDouble, other extensions."""
    paths = [root / ".git" / "x.jpg", root / "node_modules" / "pkg" / "logo.png",
             root / "@eaDir" / "thumb.jpg", root / "#recycle" / "old.jpg",
             root / "$RECYCLE.BIN" / "del.jpg", root / ".thumbnails" / "t.png",
             root / "__MACOSX" / "m.jpg", root / "System Volume Information" / "s.jpg"]
    for i, p in enumerate(paths):
        write_photo(p, 100 + i)
    (root / "._beach.jpg").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (root / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (root / "notes.txt").write_text("not a photo")
    return [str(p) for p in paths]


def bomb_png(path: Path, width: int = 40_000, height: int = 40_000) -> Path:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    return path


def make_bad_files(root: Path) -> dict[str, str]:
    """Every bad-file kind -> path. Each must be recorded as failed, never stop the run."""
    bad = root / "bad"
    bad.mkdir(parents=True, exist_ok=True)
    good = write_photo(bad / "source.jpg", 999, (320, 240)).read_bytes()
    (bad / "source.jpg").unlink()
    out = {}
    out["zero"] = bad / "zero.jpg"
    out["zero"].write_bytes(b"")
    out["truncated"] = bad / "truncated.jpg"
    out["truncated"].write_bytes(good[: len(good) // 3])
    out["corrupt"] = bad / "corrupt.jpg"
    out["corrupt"].write_bytes(good[:200] + os.urandom(4000))
    out["not_image"] = bad / "readme.png"
    out["not_image"].write_text("this is text with a photo's name\n" * 20)
    out["bomb"] = bomb_png(bad / "bomb.png")
    out["fifo"] = bad / "pipe.jpg"
    os.mkfifo(out["fifo"])
    out["device"] = bad / "device.jpg"
    os.symlink("/dev/null", out["device"])
    out["broken_link"] = bad / "dangling.jpg"
    os.symlink(bad / "nowhere.jpg", out["broken_link"])
    return {k: str(v) for k, v in out.items()}


def make_symlink_loop(root: Path) -> None:
    """A folder link back to the root and one to its parent folder: a walk must still end."""
    (root / "loops").mkdir(exist_ok=True)
    os.symlink(root, root / "loops" / "back_to_root")
    os.symlink("..", root / "loops" / "up")
