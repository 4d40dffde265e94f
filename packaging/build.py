"""Build everything this OS can build for clippo-desktop, smoke-test it, and print sizes and times.

    python packaging/build.py                              # Linux: app folder, tarball, .deb + smoke
    python packaging/build.py --smoke-only                 # rerun the smoke tests on the last build
    python packaging/build.py --onnxruntime onnxruntime-gpu  # bundle the CUDA runtime instead

Steps: a runtime-only venv in build/venv (no torch, portable hnswlib, see build_env.py); icons
from the SVG (build_icons.py); PyInstaller with packaging/clippo-desktop.spec into build/dist;
then per OS: Linux -> tarball + .deb (build_linux.py) and smoke tests (smoke.py); Windows ->
the folder for Inno Setup (packaging/windows/clippo-desktop.iss); macOS -> the .app for
packaging/macos/build_dmg.sh. Results and timings go to build/build-report.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
sys.path.insert(0, str(PACKAGING))

import build_env  # noqa: E402  (sibling modules of this script)

APP = "clippo-desktop"
# Unpacked one-folder app on Linux. The aim was 250 MB; what is left is the floor of the
# dependencies themselves (ICU data 31 MB, OpenBLAS 25, ONNX Runtime 30, x265 22...): see
# packaging/README.md. This is the regression guard: a build over it says so loudly.
SIZE_BUDGET_MB = 280
DEFAULT_GOLDEN = ROOT.parent / "shared" / "golden" / "clippo_ti16_golden_params.npz"
DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "imagenet-sample-1k" / "images"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python packaging/build.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", type=Path, default=ROOT / "build", help="where everything goes (default build/)")
    p.add_argument("--onnxruntime", default="onnxruntime", metavar="DIST",
                   help="onnxruntime flavour to bundle: onnxruntime (CPU, default), onnxruntime-gpu "
                        "(CUDA, Linux/Windows) or onnxruntime-directml (Windows); ==VERSION optional")
    p.add_argument("--smoke-only", action="store_true", help="only rerun the smoke tests on the last build")
    p.add_argument("--no-smoke", action="store_true", help="build without running the smoke tests")
    p.add_argument("--no-deb", action="store_true", help="skip the .deb (Linux)")
    p.add_argument("--deb-compression", choices=("xz", "zstd", "gzip"), default="xz",
                   help="xz: smallest download (default); zstd: ~30%% larger .deb, minutes faster on 2 cores")
    p.add_argument("--golden-params", type=Path, default=DEFAULT_GOLDEN,
                   help="checkpoint the smoke test imports when resources/models bundles no default model")
    p.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="folder of sample JPEGs for the smoke test")
    return p.parse_args(argv)


def check_prerequisites(args) -> None:
    """Fail early, naming what is missing and how to get it."""
    problems = []
    if sys.version_info < (3, 10):
        problems.append(f"Python 3.10+ is needed (this is {sys.version.split()[0]})")
    for path, what in ((ROOT / "resources/unifont/unifont-9.0.06-glyphs.npz",
                        "the Unifont glyph table (python -m clippo_desktop.engine.glyphs --build)"),
                       (ROOT / "resources/icons/clippo-desktop.svg", "the app icon"),
                       (PACKAGING / "clippo-desktop.spec", "the PyInstaller spec")):
        if not path.is_file():
            problems.append(f"missing {path}: {what}")
    tools = {"linux": ["readelf", "strip"] + ([] if args.no_deb else ["dpkg-deb", "dpkg", "ldconfig"])}.get(
        sys.platform, [])
    if not (args.build_dir / "venv").exists():
        tools = tools + ["cc" if sys.platform != "win32" else "cl"]  # hnswlib compiles from source
    problems += [f"the tool `{t}` is not on PATH" for t in tools if shutil.which(t) is None]
    if not args.no_smoke and sys.platform.startswith("linux"):
        from smoke import bundled_default_in

        needed = [(args.photos, "--photos")]
        if bundled_default_in(ROOT / "resources" / "models") is None:  # else the smoke test uses it
            needed.append((args.golden_params, "--golden-params"))
        for path, flag in needed:
            if not path.exists():
                problems.append(f"the smoke test needs {path} (pass {flag} or --no-smoke)")
    if problems:
        raise SystemExit("build: cannot start:\n  - " + "\n  - ".join(problems))


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def run_pyinstaller(py: Path, build_dir: Path) -> Path:
    dist, work = build_dir / "dist", build_dir / "pyinstaller"
    subprocess.run([str(py), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(dist), "--workpath", str(work), str(PACKAGING / f"{APP}.spec")],
                   check=True, cwd=build_dir)
    return dist / APP


def make_icons(py: Path, build_dir: Path) -> dict[str, Path]:
    out = subprocess.run([str(py), str(PACKAGING / "build_icons.py"), str(ROOT / "resources/icons/clippo-desktop.svg"),
                          str(build_dir / "icons")], check=True, capture_output=True, text=True).stdout
    return {k: Path(v) for k, v in (line.split("\t") for line in out.splitlines() if "\t" in line)}


def smoke(args, report: dict) -> None:
    import smoke as smoke_tests

    version = build_env.project_version(ROOT)
    for kind, key in (("deb", "deb_path"), ("tarball", "tarball_path")):
        path = Path(report.get(key) or "")
        if not path.is_file():
            print(f"build: no {kind} to smoke-test ({path})", flush=True)
            continue
        print(f"build: smoke-testing the {kind} {path.name}", flush=True)
        start = time.perf_counter()
        fn = smoke_tests.smoke_deb if kind == "deb" else smoke_tests.smoke_tarball
        report[f"smoke_{kind}"] = fn(path, version, args.golden_params, args.photos)
        report[f"smoke_{kind}"]["seconds"] = round(time.perf_counter() - start, 1)
        print(f"build: smoke {kind} passed: {report[f'smoke_{kind}']}", flush=True)


def summarise(report: dict) -> None:
    rows = [("build time", f"{report.get('build_seconds', 0):.0f} s"),
            ("app folder (unpacked)", mb(report.get("app_bytes", 0)) + f" (budget {SIZE_BUDGET_MB} MB)"),
            ("tarball", mb(report.get("tarball_bytes", 0))),
            (".deb", mb(report.get("deb_bytes", 0)))]
    for kind in ("deb", "tarball"):
        s = report.get(f"smoke_{kind}")
        if s:
            rows += [(f"{kind}: GUI start to window drawn", f"{s['gui_window_drawn_s']} s"),
                     (f"{kind}: first CLI search (new process)", f"{s['cli_first_search_s']:.2f} s"),
                     (f"{kind}: index 20 photos", f"{s['index_20_photos_s']:.2f} s")]
    width = max(len(r[0]) for r in rows)
    print("\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows), flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.build_dir = args.build_dir.resolve()
    report_path = args.build_dir / "build-report.json"
    if args.smoke_only:
        report = json.loads(report_path.read_text()) if report_path.is_file() else {}
        smoke(args, report)
        report_path.write_text(json.dumps(report, indent=2))
        summarise(report)
        return 0
    check_prerequisites(args)
    args.build_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    report: dict = {"onnxruntime": args.onnxruntime, "platform": sys.platform}
    version = build_env.project_version(ROOT)
    py = build_env.prepare_venv(ROOT, args.build_dir, args.onnxruntime)
    report["venv_seconds"] = round(time.perf_counter() - start, 1)
    icons = make_icons(py, args.build_dir)
    t = time.perf_counter()
    app_dir = run_pyinstaller(py, args.build_dir)
    report["pyinstaller_seconds"] = round(time.perf_counter() - t, 1)
    from build_linux import build_deb, build_tarball, folder_size, strip_debug_info

    if sys.platform.startswith("linux"):
        report["stripped_debug_bytes"] = strip_debug_info(app_dir)
    report["app_bytes"] = folder_size(app_dir)
    if sys.platform.startswith("linux"):
        out = args.build_dir / "artifacts"
        out.mkdir(exist_ok=True)
        tarball = build_tarball(app_dir, out, version, icons, PACKAGING)
        report.update(tarball_path=str(tarball), tarball_bytes=tarball.stat().st_size)
        if not args.no_deb:
            deb, warnings = build_deb(app_dir, out, version, icons, PACKAGING, args.deb_compression)
            report.update(deb_path=str(deb), deb_bytes=deb.stat().st_size, deb_warnings=warnings)
            for w in warnings:
                print(f"build: warning: {w}", flush=True)
    else:
        print(f"build: {app_dir} is ready; make the installer with "
              + ("iscc packaging\\windows\\clippo-desktop.iss" if sys.platform == "win32"
                 else "packaging/macos/build_dmg.sh"), flush=True)
    report["build_seconds"] = round(time.perf_counter() - start, 1)
    report_path.write_text(json.dumps(report, indent=2))
    if report["app_bytes"] > SIZE_BUDGET_MB * 1e6:
        print(f"build: warning: the app folder is {mb(report['app_bytes'])}, over the "
              f"{SIZE_BUDGET_MB} MB budget", flush=True)
    if not args.no_smoke and sys.platform.startswith("linux"):
        smoke(args, report)
        report_path.write_text(json.dumps(report, indent=2))
    summarise(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
