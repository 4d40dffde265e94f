"""Make the platform icons from the one source drawing, resources/icons/clippo-desktop.svg.

Linux menus want a 256 px PNG (plus the SVG as the scalable icon), Windows an .ico with sizes
16-256, macOS an .icns. Qt (QtSvg) rasterises the SVG once at 1024 px; Pillow derives the rest.
Run with the build venv's python: `python packaging/build_icons.py SVG OUT_DIR`.
Outputs go to build/icons/ and are not committed: the SVG is the only source.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def render_svg(svg: Path, size: int, out_png: Path) -> None:
    """Rasterise `svg` to a transparent size x size PNG with Qt's SVG renderer."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (Qt needs one alive)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"build_icons: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out_png), "PNG"):
        raise SystemExit(f"build_icons: cannot write {out_png}")


def make_icons(svg: Path, out_dir: Path) -> dict[str, Path]:
    from PIL import Image

    if not svg.is_file():
        raise SystemExit(f"build_icons: the app icon {svg} is missing")
    out_dir.mkdir(parents=True, exist_ok=True)
    big = out_dir / "clippo-desktop-1024.png"
    render_svg(svg, 1024, big)
    outputs = {"svg": svg}
    with Image.open(big) as img:
        img = img.convert("RGBA")
        for px in (256, 128, 48):
            path = out_dir / f"clippo-desktop-{px}.png"
            img.resize((px, px), Image.Resampling.LANCZOS).save(path)
            outputs[f"png{px}"] = path
        (out_dir / "clippo-desktop.png").write_bytes(outputs["png256"].read_bytes())
        outputs["png"] = out_dir / "clippo-desktop.png"
        img.save(out_dir / "clippo-desktop.ico", sizes=ICO_SIZES)
        outputs["ico"] = out_dir / "clippo-desktop.ico"
        img.save(out_dir / "clippo-desktop.icns")  # Pillow writes the standard size set
        outputs["icns"] = out_dir / "clippo-desktop.icns"
    return outputs


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python packaging/build_icons.py SVG OUT_DIR")
    for kind, path in make_icons(Path(sys.argv[1]), Path(sys.argv[2])).items():
        print(f"{kind}\t{path}")
