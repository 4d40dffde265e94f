"""A generator of hostile photo files: everything a real photo folder throws at an indexer.

`build_corpus(root)` writes >= 200 files of >= 25 kinds (truncated JPEG/PNG/WebP at several
offsets, zero bytes, random bytes, decompression bombs, a 5,000-frame GIF, exotic TIFF modes,
broken EXIF, corrupt HEIC, fake RAWs, FIFOs and sockets, symlink loops, undecodable and
255-byte names, a path deeper than 4,096 characters) and returns one `CorpusFile` per file,
naming its kind and the reason families the indexer may give for it ("ok" when the file is
awkward but decodable). `reason_family(reason)` maps the engine's reason strings onto those
families, so a test can assert that every kind fails for the right reason.

The generator uses only PIL, pillow-heif and hand-written bytes (header CRCs computed here).
"""

from __future__ import annotations

import io
import os
import socket
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.photo_factory import pixels

# Reason families: the engine's reason strings (engine/imageio.py, scanner.py, pipeline.py).
FAMILIES = {
    "truncated or corrupt": "corrupt",
    "not an image": "not_image",
    "too large": "too_large",
    "not a regular file": "not_regular",
    "empty file": "empty",
    "vanished": "vanished",
    "broken symbolic link": "broken_link",
    "not a supported raw": "not_raw",
    "raw file has no embedded preview": "not_raw",
    "file name too long": "name_too_long",
}
CORRUPT = frozenset({"corrupt"})
OK = frozenset({"ok"})


def reason_family(reason: str) -> str:
    """The family of an engine reason string ("other" when it is none we know)."""
    low = reason.lower()
    for needle, family in FAMILIES.items():
        if needle in low:
            return family
    return "other"


@dataclass(frozen=True)
class CorpusFile:
    path: str                       # str; undecodable bytes as surrogate escapes
    kind: str
    expect: frozenset[str]          # allowed reason families ("ok": indexes fine)
    vanish: bool = False            # delete it between the scan and the decode


def _encode(img: np.ndarray | Image.Image, fmt: str, **kw) -> bytes:
    image = img if isinstance(img, Image.Image) else Image.fromarray(img)
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_claiming(width: int, height: int) -> bytes:
    """A valid-CRC PNG whose IHDR claims width x height RGB pixels; its IDAT holds 1 KiB."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + _png_chunk(b"IEND", b""))


def gif_claiming(width: int, height: int) -> bytes:
    """A GIF whose logical screen and only frame claim width x height (16-bit fields)."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00" * 6
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return head + frame + b";"


def _tiff_ifd(entries: list[tuple[int, int, int, bytes]], next_ifd: int, count: int | None = None
              ) -> bytes:
    """Little-endian IFD: entries (tag, type, count, 4-byte value), then the next-IFD offset."""
    n = len(entries) if count is None else count
    body = b"".join(struct.pack("<HHI", t, ty, c) + v.ljust(4, b"\x00")[:4]
                    for t, ty, c, v in entries)
    return struct.pack("<H", n) + body + struct.pack("<I", next_ifd)


def _jpeg_with_exif(tiff: bytes, seed: int) -> bytes:
    """A real JPEG with an APP1 Exif segment holding `tiff` verbatim."""
    jpeg = _encode(pixels(seed, (64, 48)), "JPEG", quality=80)
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def exif_orientation(value: int) -> bytes:
    ifd = _tiff_ifd([(0x0112, 3, 1, struct.pack("<H", value))], 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def exif_huge_count() -> bytes:
    """IFD0 claims 65,535 entries but holds two."""
    ifd = _tiff_ifd([(0x0112, 3, 1, struct.pack("<H", 1)), (0x010F, 2, 4, b"abc\x00")], 0,
                    count=0xFFFF)
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def exif_loop() -> bytes:
    """IFD0's next-IFD offset and its Exif and GPS IFD pointers all point back at IFD0."""
    ifd = _tiff_ifd([(0x0112, 3, 1, struct.pack("<H", 6)), (0x8769, 4, 1, struct.pack("<I", 8)),
                     (0x8825, 4, 1, struct.pack("<I", 8))], 8)
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def exif_bad_gps(seed: int) -> bytes:
    """A GPS IFD whose rationals divide by zero and whose refs are binary junk."""
    ifd0 = _tiff_ifd([(0x8825, 4, 1, struct.pack("<I", 26))], 0)          # 8 + 18 = 26
    gps_at, data_at = 26, 26 + 2 + 3 * 12 + 4
    gps = _tiff_ifd([(1, 2, 2, b"\xff\x00"), (2, 5, 3, struct.pack("<I", data_at)),
                     (4, 5, 3, struct.pack("<I", data_at))], 0)
    rationals = struct.pack("<6I", seed, 0, 0, 0, 0xFFFFFFFF, 0)
    assert 8 + len(ifd0) == gps_at
    return b"II*\x00" + struct.pack("<I", 8) + ifd0 + gps + rationals


def _many_frame_gif(frames: int) -> bytes:
    base = Image.new("P", (4, 4))
    rest = [Image.new("P", (4, 4), color=i % 200) for i in range(frames - 1)]
    return _encode(base, "GIF", save_all=True, append_images=rest, duration=10, loop=0)


def _heic(seed: int) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return _encode(pixels(seed, (128, 96)), "HEIF", quality=60)


def _deep_file(top: Path, depth_chars: int, data: bytes) -> str:
    """A file under nested 200-character folders, built with dir_fd-relative calls."""
    name = "d" * 200
    Path(top).mkdir(parents=True, exist_ok=True)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    path = str(top)
    try:
        while len(path) <= depth_chars:
            os.mkdir(name, dir_fd=fd)
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd, path = nxt, path + os.sep + name
        out = os.open("deep.jpg", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
        try:
            os.write(out, data)
        finally:
            os.close(out)
    finally:
        os.close(fd)
    return path + os.sep + "deep.jpg"


def _socket_at(path: Path) -> None:
    """A UNIX socket file at `path` (bound by a short relative name: sun_path is 108 bytes)."""
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path.name)
        s.close()
    finally:
        os.chdir(cwd)


def build_corpus(root: Path, *, deep: bool = True) -> list[CorpusFile]:
    """Write the corpus under `root` and describe every file (see the module docstring)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out: list[CorpusFile] = []

    def put(rel: str, data: bytes, kind: str, expect=CORRUPT, vanish: bool = False) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        out.append(CorpusFile(str(p), kind, frozenset(expect), vanish))

    rng = np.random.default_rng(7)
    jpeg = _encode(pixels(1, (160, 120)), "JPEG", quality=85)
    png = _encode(pixels(2, (96, 72)), "PNG")
    webp = _encode(pixels(3, (96, 72)), "WEBP", quality=80)
    # 1-3: truncated at several offsets (header only, mid-header, a third, two thirds, -2 bytes)
    for name, data, ext in (("jpeg", jpeg, "jpg"), ("png", png, "png"), ("webp", webp, "webp")):
        cuts = sorted({2, 11, 30, 100, len(data) // 3, len(data) // 2, 2 * len(data) // 3,
                       len(data) - 2})
        for cut in cuts:
            tail_only = cut == len(data) - 2       # only the end marker's last bytes are lost
            put(f"truncated/{name}_{cut:06d}.{ext}", data[:cut], f"truncated_{name}",
                CORRUPT | {"not_image"} | (OK if tail_only else set()))
    # 4: zero bytes, under every photo extension
    for ext in ("jpg", "png", "webp", "gif", "tif", "heic", "bmp", "nef"):
        put(f"zero/empty.{ext}", b"", "zero_bytes", {"empty"})
    # 5: random bytes named .jpg
    for i in range(20):
        put(f"random/noise_{i:02d}.jpg", rng.bytes(int(rng.integers(1, 40_000))), "random_bytes",
            {"not_image", "corrupt"})
    # 6: random bytes after a real JPEG header (decoders start, then meet garbage)
    for i in range(10):
        put(f"random/jpeg_head_{i:02d}.jpg", jpeg[:600] + rng.bytes(5000), "jpeg_garbage_body",
            CORRUPT | OK | {"not_image"})
    # 7: a valid PNG named .jpg (and a valid JPEG named .png): decodable
    for i in range(6):
        put(f"misnamed/png_as_{i}.jpg", _encode(pixels(10 + i), "PNG"), "png_named_jpg", OK)
        put(f"misnamed/jpeg_as_{i}.png", _encode(pixels(20 + i), "JPEG"), "jpeg_named_png", OK)
    # 8: decompression bombs: 100,000 x 100,000 PNG, 65,535^2 GIF, big-header TIFF/BMP
    for i, (w, h) in enumerate(((100_000, 100_000), (100_000, 1), (1, 300_000_000),
                                (30_000, 30_000), (2**31 - 1, 2**31 - 1))):
        put(f"bombs/png_{i}.png", png_claiming(w, h), "png_bomb", {"too_large", "corrupt"})
    put("bombs/screen.gif", gif_claiming(65535, 65535), "gif_bomb", {"too_large", "corrupt"})
    bmp = bytearray(_encode(pixels(4, (8, 8)), "BMP"))
    bmp[18:26] = struct.pack("<ii", 60_000, 60_000)
    put("bombs/huge.bmp", bytes(bmp), "bmp_bomb", {"too_large", "corrupt"})
    # 9: a GIF with 5,000 tiny frames (the first frame is what we index)
    put("frames/many.gif", _many_frame_gif(5000), "gif_5000_frames", OK)
    # 10-13: 16-bit, CMYK, LAB and palette TIFF (and 16-bit PNG, 1-bit, LA, I, F)
    base = Image.fromarray(pixels(5, (64, 48)))
    grey16 = Image.fromarray((np.asarray(base.convert("L"), np.uint16) * 257))
    for i in range(3):
        put(f"tiff/grey16_{i}.tif", _encode(grey16, "TIFF"), "tiff_16bit", OK)
        put(f"tiff/cmyk_{i}.tif", _encode(base.convert("CMYK"), "TIFF"), "tiff_cmyk", OK)
        put(f"tiff/lab_{i}.tif", _encode(Image.new("LAB", (48, 32), (50 + i, 10, 20)), "TIFF"),
            "tiff_lab", OK)
        put(f"tiff/palette_{i}.tif", _encode(base.convert("P"), "TIFF"), "tiff_palette", OK)
        put(f"tiff/float_{i}.tif", _encode(base.convert("F"), "TIFF"), "tiff_float", OK)
        put(f"modes/grey16_{i}.png", _encode(grey16, "PNG"), "png_16bit", OK)
        put(f"modes/bilevel_{i}.png", _encode(base.convert("1"), "PNG"), "png_1bit", OK)
        put(f"modes/la_{i}.png", _encode(base.convert("LA"), "PNG"), "png_la", OK)
    # 14-17: broken EXIF: invalid orientation, huge IFD count, looping IFDs, junk GPS
    for value in (0, 9, 255, 65535):
        put(f"exif/orientation_{value}.jpg", _jpeg_with_exif(exif_orientation(value), value),
            "exif_bad_orientation", OK)
    for i in range(4):
        put(f"exif/huge_count_{i}.jpg", _jpeg_with_exif(exif_huge_count(), 30 + i),
            "exif_huge_ifd", OK)
        put(f"exif/loop_{i}.jpg", _jpeg_with_exif(exif_loop(), 40 + i), "exif_ifd_loop", OK)
        put(f"exif/gps_{i}.jpg", _jpeg_with_exif(exif_bad_gps(i), 50 + i), "exif_bad_gps", OK)
    # 18: HEIC with a corrupt payload (the middle half overwritten); and truncated
    heic = _heic(6)
    for i in range(4):
        bad = bytearray(heic)
        a, b = len(bad) // 4 + i * 7, 3 * len(bad) // 4
        bad[a:b] = rng.bytes(b - a)
        put(f"heic/corrupt_{i}.heic", bytes(bad), "heic_corrupt", CORRUPT | OK | {"not_image"})
        put(f"heic/truncated_{i}.heic", heic[: len(heic) * (i + 1) // 6], "heic_truncated",
            CORRUPT | {"not_image"})
    # 19: RAW files that are really text
    for ext in ("cr2", "nef", "dng", "arw", "cr3", "raf", "orf"):
        put(f"raw/fake.{ext}", b"this is not a raw file\n" * 50, "raw_is_text",
            {"not_raw", "corrupt"})
    # 20: a TIFF-based RAW name holding a plain TIFF (libraw may or may not take it)
    put("raw/plain_tiff.dng", _encode(base, "TIFF"), "raw_is_tiff",
        {"not_raw", "corrupt", "ok"})
    # 21: corrupt bytes in the middle of otherwise valid files
    for i in range(6):
        bad = bytearray(png)
        bad[len(bad) // 2: len(bad) // 2 + 64] = rng.bytes(64)
        put(f"flipped/png_{i}.png", bytes(bad), "png_bad_crc", CORRUPT | OK)
    # 22: text, HTML and XML saved with a photo name
    for i, text in enumerate((b"<html><body>404</body></html>", b"<?xml version='1.0'?><svg/>",
                              b"%PDF-1.4\n" + b"0" * 400, b"PK\x03\x04" + b"\x00" * 200)):
        put(f"impostors/doc_{i}.jpg", text, "document_named_photo", {"not_image", "corrupt"})
    # 23-25: non-UTF-8, 255-byte and odd names on valid photos
    odd = os.fsdecode(b"names/caf\xe9-\xff\xfe.jpg")
    put(odd, _encode(pixels(60), "JPEG"), "non_utf8_name", OK)
    for i in range(4):
        name = (f"{i}" + "\u00e9" * 125 + ".jpg").encode()       # 1 + 250 + 4 = 255 bytes
        assert len(name) == 255
        put("names/" + name.decode(), _encode(pixels(61 + i), "JPEG"), "name_255_bytes", OK)
    for i, name in enumerate(("new\nline.jpg", " leading space.jpg", "tab\there.jpg",
                              "emoji \U0001F4F7.jpg", "rtl \u202etxt.jpg", "-dash.jpg")):
        put(f"names/{name}", _encode(pixels(70 + i), "JPEG"), "odd_name", OK)
    # 26: files that disappear between the scan and the decode
    for i in range(6):
        put(f"vanish/gone_{i}.jpg", _encode(pixels(80 + i), "JPEG"), "vanishing", {"vanished"},
            vanish=True)
    # 27-29: FIFOs, sockets and device nodes named like photos; broken symlinks
    special = root / "special"
    special.mkdir(exist_ok=True)
    for i in range(3):
        os.mkfifo(special / f"pipe_{i}.jpg")
        out.append(CorpusFile(str(special / f"pipe_{i}.jpg"), "fifo", frozenset({"not_regular"})))
        _socket_at(special / f"sock_{i}.jpg")
        out.append(CorpusFile(str(special / f"sock_{i}.jpg"), "socket",
                              frozenset({"not_regular"})))
    for i, dev in enumerate(("/dev/zero", "/dev/null", "/dev/urandom")):
        os.symlink(dev, special / f"device_{i}.jpg")
        out.append(CorpusFile(str(special / f"device_{i}.jpg"), "device_link",
                              frozenset({"not_regular"})))
        os.symlink(special / f"nowhere_{i}.jpg", special / f"dangling_{i}.jpg")
        out.append(CorpusFile(str(special / f"dangling_{i}.jpg"), "broken_symlink",
                              frozenset({"broken_link"})))
    # 30: symlink loops: a folder linking to its parent and to the corpus root
    loops = root / "loops" / "inner"
    loops.mkdir(parents=True)
    os.symlink("..", loops / "up")
    os.symlink(root, loops / "to_root")
    put("loops/inner/inside_loop.jpg", _encode(pixels(90), "JPEG"), "photo_inside_loop", OK)
    # 31: a path deeper than 4,096 characters
    if deep:
        path = _deep_file(root / "deep", 4200, _encode(pixels(91), "JPEG"))
        out.append(CorpusFile(path, "path_over_4096", frozenset({"name_too_long", "ok"})))
    # 32: good photos between the bad ones, so the encoder really runs
    for i in range(24):
        put(f"good/photo_{i:02d}.jpg", _encode(pixels(100 + i), "JPEG", quality=85), "good_jpeg", OK)
    return out


def kinds(files: list[CorpusFile]) -> set[str]:
    return {f.kind for f in files}
