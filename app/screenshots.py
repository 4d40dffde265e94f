"""Write PNG screenshots of the window: `python -m clippo_desktop.app.screenshots OUT_DIR`.

Builds a small real library (photos from ../shared/data, the bundled default model, else the
golden model imported from ../shared/golden) unless `--data-dir` names an existing one, opens
the window and saves: first-run.png (no folders yet), main.png (results + preview),
heatmap.png (the preview with "Explain match" on) and tagging.png (the tagging panel after a
drop). Works offscreen (QT_QPA_PLATFORM=offscreen) and under a real X server
(`xvfb-run -a python -m ...`).
PNGs are palette-quantised so each stays well under 300 KB.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

QUERY = "a dog on the grass"


def _shared() -> Path:
    return Path(os.environ.get("CLIPPO_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def build_library(data_dir: Path, shared: Path, n: int = 36) -> Path:
    """Index `n` photos (COCO-mini + ImageNet sample) into data_dir with the bundled default
    model, or, when none is bundled, with the golden model imported from ../shared/golden."""
    from clippo_desktop.engine.library import Library
    from clippo_desktop.engine.model_import import import_checkpoint
    from clippo_desktop.engine.models import ModelRegistry

    photos = data_dir.parent / "photos"
    bundled = any(m.bundled and m.manifest.is_default for m in ModelRegistry(data_dir).list())
    if not bundled and not (data_dir / "models" / "golden").is_dir():
        import_checkpoint(shared / "golden" / "clippo_ti16_golden_params.npz", "golden",
                          ModelRegistry(data_dir), progress=lambda _m: None)
    sources = (sorted((shared / "data" / "coco-mini" / "val2017").glob("*.jpg"))[: n // 2]
               + sorted((shared / "data" / "imagenet-sample-1k" / "images").glob("*.jpg"))[: n - n // 2])
    for sub in ("holiday", "garden"):
        (photos / sub).mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(sources):
        dst = photos / ("holiday" if i % 2 else "garden") / src.name
        if not dst.exists():
            shutil.copyfile(src, dst)
    with Library.open(data_dir) as lib:
        lib.add_roots([photos])
        lib.index()
    return photos


def save_png(widget, path: Path) -> int:
    """Grab a widget and write it as a palette PNG; returns the file size."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(buf, "PNG")
    image = Image.open(io.BytesIO(bytes(buf.data()))).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True)
    return path.stat().st_size


def _wait(app, condition, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def _settle(app, seconds: float) -> None:
    _wait(app, lambda: False, seconds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--data-dir", type=Path, help="an existing library (default: build one)")
    ap.add_argument("--query", default=QUERY)
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
    from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtWidgets import QApplication

    from .icon import app_icon
    from .window import MainWindow

    args.out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="clippo-shots-"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    try:
        shared = _shared()
        empty_dir = work / "empty" / "data"
        empty_dir.mkdir(parents=True)
        if args.data_dir is None:
            build_library(work / "lib" / "data", shared, 36)
        data_dir = args.data_dir or work / "lib" / "data"
        if (data_dir / "models").is_dir():  # installed models (none when the bundled one is used)
            shutil.copytree(data_dir / "models", empty_dir / "models")
        sizes = {}
        first = MainWindow(empty_dir, thumb_root=work / "thumbs", auto_index=False)
        first.resize(1100, 700)
        first.show()
        _wait(app, lambda: first.state is not None)
        _settle(app, 0.5)
        sizes["first-run.png"] = save_png(first, args.out_dir / "first-run.png")
        first.close()
        _wait(app, lambda: first._closed)

        w = MainWindow(data_dir, thumb_root=work / "thumbs", auto_index=False)
        w.resize(1240, 760)
        w.show()
        _wait(app, lambda: w.state is not None)
        w.search.setText(args.query)
        w.search.fire()
        _wait(app, lambda: w.results.rowCount() > 0)
        _wait(app, lambda: w.loader.loaded >= min(w.results.rowCount(), 12), 30)
        w.grid.setCurrentIndex(w.results.index(0))
        _wait(app, lambda: w.preview.image.pixmap() is not None and not w.preview.image.pixmap().isNull())
        _settle(app, 0.5)
        sizes["main.png"] = save_png(w, args.out_dir / "main.png")
        w.preview.explain_btn.setChecked(True)
        _wait(app, lambda: w.preview.image.has_heat, 60)
        _settle(app, 0.3)
        sizes["heatmap.png"] = save_png(w, args.out_dir / "heatmap.png")
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(w.results.hit(min(1, w.results.rowCount() - 1)).path)])
        drop = QDropEvent(QPoint(300, 300), Qt.DropAction.CopyAction, mime,
                          Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        w.dropEvent(drop)
        _wait(app, lambda: bool(w.tagging.results), 300)
        _settle(app, 0.5)
        sizes["tagging.png"] = save_png(w, args.out_dir / "tagging.png")
        w.close()
        _wait(app, lambda: w._closed)
        for name, size in sizes.items():
            print(f"{args.out_dir / name}  {size / 1024:.0f} KB")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
