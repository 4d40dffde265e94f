"""The runtime-only build environment: a fresh venv under build/ with the app and PyInstaller.

Why a separate venv: PyInstaller bundles whatever the build interpreter can import. In the
development environment torch is installed, and the onnxruntime hook drags it in (the bundle
grows from ~260 MB to ~960 MB). So the app is installed here WITHOUT extras (`pip install .`),
hnswlib is compiled with HNSWLIB_NO_NATIVE=1 (the default `-march=native` build crashes with
"illegal instruction" on older CPUs), and onnxruntime can be swapped for a GPU flavour.

The venv is reused while its stamp (pyproject.toml + flavour + pins) is unchanged; the project
itself is always reinstalled from a fresh copy of the source tree, so stale files never ship.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

PYINSTALLER_PIN = "pyinstaller==6.22.3"
HNSWLIB_PIN = "hnswlib==0.8.0"
# engine/progress.py draws progress bars with rich when stderr is a terminal.
RICH_PIN = "rich==15.0.0"
# What a copy of the source tree needs for `pip install` (see [tool.setuptools] in pyproject).
SOURCE_ITEMS = ("pyproject.toml", "README.md", "LICENSE", "clippo_desktop", "engine", "app",
                "training", "resources")
ONNXRUNTIME_FLAVOURS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml")


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def project_pin(root: Path, dist: str) -> str:
    """The exact version pyproject.toml pins for `dist` (e.g. onnxruntime==1.31.1)."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(rf'"{re.escape(dist)}==([^"]+)"', text)
    if not m:
        raise SystemExit(f"build: pyproject.toml does not pin {dist}==VERSION; pin it first.")
    return m.group(1)


def project_version(root: Path) -> str:
    m = re.search(r'^version\s*=\s*"([^"]+)"', (root / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    if not m:
        raise SystemExit("build: no version = \"...\" in pyproject.toml")
    return m.group(1)


def onnxruntime_requirement(root: Path, flavour: str) -> str:
    """`onnxruntime-gpu` -> `onnxruntime-gpu==<the project's onnxruntime pin>`; explicit pins stay."""
    name = re.split(r"[=<>!~]", flavour, maxsplit=1)[0].strip()
    if name not in ONNXRUNTIME_FLAVOURS:
        raise SystemExit(f"build: --onnxruntime must be one of {', '.join(ONNXRUNTIME_FLAVOURS)} "
                         f"(optionally with ==VERSION), got {flavour!r}")
    return flavour if name != flavour else f"{name}=={project_pin(root, 'onnxruntime')}"


def _run(cmd: list, env: dict | None = None, cwd: Path | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, env=env, cwd=cwd)


def _stamp(root: Path, ort_req: str) -> str:
    h = hashlib.sha256((root / "pyproject.toml").read_bytes())
    h.update(json.dumps([ort_req, PYINSTALLER_PIN, HNSWLIB_PIN, RICH_PIN, sys.version]).encode())
    return h.hexdigest()


def copy_source(root: Path, dest: Path) -> Path:
    """A clean copy of what `pip install .` needs (no build/, no caches, no stale outputs)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for item in SOURCE_ITEMS:
        src = root / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, dest / item)
    return dest


def missing_packages(root: Path) -> list[str]:
    """Import packages (folders with __init__.py) that pyproject's explicit `packages` list omits;
    a `pip install .` (unlike the editable install) silently leaves those out of the app."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    mapping = dict(re.findall(r'"([\w.]+)"\s*=\s*"([\w./-]+)"', text.split("package-dir", 1)[1].split("\n", 1)[0]))
    listed = set(re.findall(r'"([\w.]+)"', re.search(r"^packages\s*=\s*\[(.*?)\]", text, re.M | re.S).group(1)))
    missing = []
    for name, folder in mapping.items():
        for init in sorted((root / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(root / folder).parts
            pkg = ".".join((name, *rel))
            if "__pycache__" not in rel and pkg not in listed:
                missing.append(pkg)
    return missing


def _add_missing_packages(src: Path, missing: list[str]) -> None:
    """Work around an incomplete `packages` list in the COPY of pyproject.toml (never the original)."""
    path = src / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    extra = "".join(f', "{name}"' for name in missing)
    path.write_text(re.sub(r"^(packages\s*=\s*\[.*?)\]", lambda m: m.group(1) + extra + "]", text,
                           count=1, flags=re.M | re.S), encoding="utf-8")


def prepare_venv(root: Path, build_dir: Path, ort_flavour: str = "onnxruntime") -> Path:
    """Create/refresh build/venv and (re)install the app into it; returns the venv's python."""
    ort_req = onnxruntime_requirement(root, ort_flavour)
    venv_dir = build_dir / ("venv" if ort_req.startswith("onnxruntime==") else
                            "venv-" + ort_req.split("==")[0])
    py = venv_python(venv_dir)
    stamp_file = venv_dir / "clippo-build-stamp.txt"
    stamp = _stamp(root, ort_req)
    env = dict(os.environ, HNSWLIB_NO_NATIVE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    fresh = not (py.exists() and stamp_file.exists() and stamp_file.read_text().strip() == stamp)
    pip = [py, "-m", "pip", "install", "--no-input"]
    if fresh:
        if venv_dir.exists():
            shutil.rmtree(venv_dir)
        print(f"build: creating the runtime-only venv {venv_dir}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
        # hnswlib first, from source, portable: no -march=native in a distributed binary.
        _run([*pip, "--no-binary", "hnswlib", "--no-cache-dir", HNSWLIB_PIN], env=env)
        _run([*pip, PYINSTALLER_PIN, RICH_PIN], env=env)
    src = copy_source(root, build_dir / "src")
    missing = missing_packages(root)
    if missing:
        print(f"build: WARNING: pyproject.toml [tool.setuptools] packages omits {missing}; "
              "`pip install .` would ship without them. Added in the build copy only: fix pyproject.toml.",
              flush=True)
        _add_missing_packages(src, missing)
    # The app itself, WITHOUT extras: no torch, no onnxscript. Always reinstalled (sources change).
    _run([*pip, "--force-reinstall", "--no-deps", str(src)], env=env)
    if fresh:
        _run([*pip, str(src)], env=env)  # its runtime dependencies, exactly as pinned
        if not ort_req.startswith("onnxruntime=="):
            _run([py, "-m", "pip", "uninstall", "-y", "onnxruntime"], env=env)
            _run([*pip, ort_req], env=env)
        stamp_file.write_text(stamp + "\n")
    check_no_torch(py)
    trim_qt_plugins(venv_dir)
    return py


# Qt plugins the desktop app never loads, moved out of the venv before PyInstaller sees them
# (their dependencies would be bundled too: the GTK3 theme alone pulls cairo, pango, gdk-pixbuf;
# VNC and TUIO pull QtNetwork and Kerberos). Kept: xcb, wayland, offscreen, minimal, the
# xdg-desktop-portal theme, image formats, icon engines and input contexts.
UNUSED_QT_PLUGINS = (
    "platformthemes/libqgtk3.so",  # GTK3 look on GNOME; Qt falls back to its Fusion style
    "platforms/libqvnc.so", "platforms/libqlinuxfb.so", "platforms/libqeglfs.so",
    "platforms/libqminimalegl.so", "platforms/libqvkkhrdisplay.so",  # kiosk/embedded backends
    "generic", "egldeviceintegrations",  # evdev/TUIO input and EGLFS: only for those backends
)


def trim_qt_plugins(venv_dir: Path) -> list[str]:
    """Move UNUSED_QT_PLUGINS aside (to venv/unused-qt-plugins/); returns what was moved."""
    found = list(venv_dir.glob("lib*/python*/site-packages/PySide6/Qt/plugins")) + \
        list(venv_dir.glob("Lib/site-packages/PySide6/plugins"))
    moved = []
    for plugins in found:
        for rel in UNUSED_QT_PLUGINS:
            src = plugins / rel
            if src.exists():
                dest = venv_dir / "unused-qt-plugins" / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(src), str(dest))
                moved.append(rel)
    return moved


def check_no_torch(py: Path) -> None:
    """Fail early if torch leaked into the build venv (it would add ~700 MB to the bundle)."""
    out = subprocess.run([str(py), "-c", "import importlib.util as u; print(bool(u.find_spec('torch')))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    if out == "True":
        raise SystemExit("build: torch is installed in the build venv; delete build/venv and rerun "
                         "(the bundle must be built without torch).")
