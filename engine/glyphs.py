"""The Unifont 9.0.06 glyph table that CLIPPO's text renderer draws with.

CLIPPO "reads" text by looking at it: queries are drawn with GNU Unifont and fed to the same
ViT as photos (see docs/clippo-spec.md §4). Parsing the two original .hex files (4.3 MB of text)
on every start would cost most of a second, and a dense 2M x 16 x 16 table would cost hundreds of MB, so
this module packs the ~65k glyphs that exist into a small sorted table shipped in
`resources/unifont/`, loads it lazily once per process, and can rebuild it from the .hex files
(`python -m clippo_desktop.engine.glyphs --build`).

Packed layout (arrays in an uncompressed .npz of 2.5 MB, read with allow_pickle=False; deflate
would save 1.6 MB on disk but doubles the load time, ~30 ms on a busy 2-core machine):
  codepoints  uint32 (N,)     sorted code points that have a line in either .hex file
  columns     uint16 (N, 16)  per glyph, column x's 16 pixels as a bitmask (bit r = row r, top=0)
  trim_start  uint8  (N,)     first kept column for spacing=1 / min_width=4 (spec §4.4)
  trim_width  uint8  (N,)     number of kept columns (2..16)
  sha256_bmp, sha256_upper    hex digests of the two source .hex files
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .errors import ModelIntegrityError

BMP_FILE = "unifont-9.0.06.hex"
UPPER_FILE = "unifont_upper-9.0.06.hex"
TABLE_NAME = "unifont-9.0.06-glyphs.npz"

# sha256 of the original GNU Unifont 9.0.06 .hex files (shared/fonts/README.md). The packed
# table records the digests it was built from; loading checks them against these.
FONT_SHA256: dict[str, str] = {
    BMP_FILE: "099d8f0c6027ed1effa4a452a5c0874a012a6ee3ab5b1cd346aa3fbeb3368fda",
    UPPER_FILE: "d78af92c44332a8e32bbc1325fa920c06acfc28515034b2bba31c055a962b78c",
}

GLYPH_SIZE = 16
TRIM_SPACING = 1
TRIM_MIN_WIDTH = 4


@dataclass(frozen=True)
class GlyphTable:
    """The packed table plus one extra all-blank glyph at index `blank` (for missing code points)."""

    codepoints: np.ndarray  # uint32 (N,)
    columns: np.ndarray  # uint16 (N+1, 16); row N is the blank glyph
    trim_start: np.ndarray  # uint8 (N+1,)
    trim_width: np.ndarray  # uint8 (N+1,)
    sha256: dict[str, str]

    @property
    def blank(self) -> int:
        return len(self.codepoints)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.codepoints, self.columns, self.trim_start, self.trim_width))

    def lookup(self, cps: np.ndarray) -> np.ndarray:
        """Glyph indices (int64 (n,)) for code points (n,); missing ones map to `blank`."""
        idx = np.searchsorted(self.codepoints, cps)  # (n,)
        idx = np.minimum(idx, self.blank - 1)
        return np.where(self.codepoints[idx] == cps, idx, self.blank)


def trim_columns(columns: np.ndarray, spacing: int = TRIM_SPACING,
                 min_width: int = TRIM_MIN_WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """Spec §4.4 trimming for glyph column masks (N, 16) -> (start, width), both uint8 (N,)."""
    ink = columns != 0  # (N, 16)
    has_ink = ink.any(axis=1)
    first = np.where(has_ink, ink.argmax(axis=1), 0)
    last = np.where(has_ink, GLYPH_SIZE - 1 - ink[:, ::-1].argmax(axis=1), 0)
    start = np.maximum(first - spacing, 0)
    end = np.maximum(last + spacing, start + min_width)
    width = np.minimum(end, GLYPH_SIZE) - start
    return start.astype(np.uint8), width.astype(np.uint8)


def _parse_hex(text: str) -> tuple[list[int], list[bytes]]:
    cps: list[int] = []
    bitmaps: list[bytes] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        cp_hex, sep, bits = line.partition(":")
        if not sep or len(bits) not in (32, 64):
            raise ValueError(f"line {lineno}: not a Unifont .hex glyph line: {line[:40]!r}")
        raw = bytes.fromhex(bits)
        if len(raw) == 16:  # 8-wide glyph: each row byte is the left half, right half blank
            raw = bytes(b for row in raw for b in (row, 0))
        cps.append(int(cp_hex, 16))
        bitmaps.append(raw)
    return cps, bitmaps


def _rows_to_columns(rows: np.ndarray) -> np.ndarray:
    """(N, 32) row bytes (row r = bytes 2r, 2r+1, MSB leftmost) -> (N, 16) uint16 column masks."""
    bits = np.unpackbits(rows.reshape(-1, 16, 2), axis=-1).reshape(-1, 16, 16)  # (N, row, col)
    weights = (1 << np.arange(16, dtype=np.uint32))[None, :, None]  # bit r = row r
    return (bits.astype(np.uint32) * weights).sum(axis=1).astype(np.uint16)  # (N, col)


def build_table(fonts_dir: Path, *, check_sha256: bool = True) -> dict[str, np.ndarray]:
    """Parse both .hex files in `fonts_dir` into the packed arrays (see module docstring)."""
    all_cps: list[int] = []
    all_bitmaps: list[bytes] = []
    digests: dict[str, str] = {}
    for name in (BMP_FILE, UPPER_FILE):
        data = (Path(fonts_dir) / name).read_bytes()
        digests[name] = hashlib.sha256(data).hexdigest()
        if check_sha256 and digests[name] != FONT_SHA256[name]:
            raise ValueError(f"{name} has sha256 {digests[name]}, expected {FONT_SHA256[name]}: "
                             "use the original GNU Unifont 9.0.06 file")
        cps, bitmaps = _parse_hex(data.decode("ascii"))
        all_cps += cps
        all_bitmaps += bitmaps
    codepoints = np.asarray(all_cps, dtype=np.uint32)
    rows = np.frombuffer(b"".join(all_bitmaps), dtype=np.uint8).reshape(-1, 32)
    order = np.argsort(codepoints, kind="stable")
    codepoints, rows = codepoints[order], rows[order]
    if np.any(np.diff(codepoints.astype(np.int64)) == 0):
        raise ValueError("duplicate code points in the .hex files")
    columns = _rows_to_columns(rows)
    start, width = trim_columns(columns)
    return {
        "codepoints": codepoints, "columns": columns, "trim_start": start, "trim_width": width,
        "sha256_bmp": np.array(digests[BMP_FILE]), "sha256_upper": np.array(digests[UPPER_FILE]),
    }


def write_table(arrays: dict[str, np.ndarray], dest: Path) -> None:
    """Write the packed table atomically (temp file in the same folder, fsync, replace)."""
    with atomic_write(dest) as f:
        np.savez(f, **arrays)
    os.chmod(dest, 0o644)  # a shipped resource: readable by everyone, unlike private temp files


def shipped_table_path() -> Path:
    return Path(str(resources.files("clippo_desktop.resources") / "unifont" / TABLE_NAME))


def read_table(path: Path) -> GlyphTable:
    """Load a packed table (never unpickles) and append the blank glyph used for misses."""
    try:
        with np.load(path, allow_pickle=False) as f:
            cps, cols = f["codepoints"], f["columns"]
            start, width = f["trim_start"], f["trim_width"]
            sha = {BMP_FILE: str(f["sha256_bmp"]), UPPER_FILE: str(f["sha256_upper"])}
    except (OSError, KeyError, ValueError) as exc:
        raise ModelIntegrityError(f"The Unifont glyph table {path} is missing or corrupt ({exc}).",
                                  "Reinstall clippo-desktop, or rebuild it with "
                                  "`python -m clippo_desktop.engine.glyphs --build`.") from exc
    if sha != FONT_SHA256:
        raise ModelIntegrityError(f"The Unifont glyph table {path} was built from other font files.",
                                  "Rebuild it from GNU Unifont 9.0.06.")
    blank_cols = np.zeros((1, GLYPH_SIZE), np.uint16)
    return GlyphTable(
        codepoints=cps,
        columns=np.concatenate([cols, blank_cols]),
        trim_start=np.append(start, np.uint8(0)),
        trim_width=np.append(width, np.uint8(TRIM_MIN_WIDTH)),
        sha256=sha,
    )


_lock = threading.Lock()
_table: GlyphTable | None = None


def glyph_table() -> GlyphTable:
    """The shipped table, loaded on first use (thread-safe, once per process)."""
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                _table = read_table(shipped_table_path())
    return _table


def _default_fonts_dir() -> Path:
    env = os.environ.get("CLIPPO_SHARED")
    base = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
    return base / "fonts"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clippo_desktop.engine.glyphs",
                                     description="Rebuild the packed Unifont glyph table.")
    parser.add_argument("--build", action="store_true", help="parse the .hex files and write the table")
    parser.add_argument("--fonts", type=Path, default=None,
                        help="folder holding the two Unifont 9.0.06 .hex files "
                             "(default: $CLIPPO_SHARED/fonts or ../shared/fonts)")
    parser.add_argument("--out", type=Path, default=None, help="output path (default: the shipped table)")
    args = parser.parse_args(argv)
    if not args.build:
        parser.print_help()
        return 2
    fonts = args.fonts or _default_fonts_dir()
    out = args.out or shipped_table_path()
    arrays = build_table(fonts)
    write_table(arrays, out)
    print(f"wrote {out} ({len(arrays['codepoints'])} glyphs, {out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
