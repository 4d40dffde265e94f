"""Smoke tests of the built Linux artefacts, run as a user would run them, with nothing from here.

For the .deb: unpack it with `dpkg-deb -x` into an empty root (no chroot needed: the app is
self-contained) and check the launcher script points at the unpacked app. For the tarball:
unpack it and run its install-user.sh into a scratch $HOME, then use the ~/.local/bin wrapper.
Then, with a clean environment (scratch HOME, no PYTHONPATH, cwd outside the repository):
`--help`, `--version`, `train` explains itself (no torch), the bundled default model is active
on a fresh data dir (or, when the build bundles none, `model import` the golden checkpoint),
`--index` ~20 photos, `search "a dog" --json` finds them, `status --json` shows the platformdirs
data dir, and the window starts offscreen and paints. Times are measured on cold processes.

Window detection: Qt's own `qt.widgets.painting` log says when MainWindow is first drawn, so
no change to the app is needed. If the app honours CLIPPO_DESKTOP_QUIT_AFTER_MS it quits by
itself; otherwise it is terminated once the window has been drawn.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path

GUI_TIMEOUT_S = 90
QUIT_AFTER_ENV = "CLIPPO_DESKTOP_QUIT_AFTER_MS"
WINDOW_DRAWN = re.compile(r"(Drawing|Flushing) .* of MainWindow\(")


class SmokeFailure(AssertionError):
    pass


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SmokeFailure(message)


class Sandbox:
    """A scratch HOME + cwd and a clean environment for running the packaged program."""

    def __init__(self, base: Path):
        self.base = base
        self.home = base / "home"
        self.work = base / "work"
        self.home.mkdir(parents=True)
        self.work.mkdir()

    def env(self, **extra: str) -> dict[str, str]:
        env = {"HOME": str(self.home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
               "QT_QPA_PLATFORM": "offscreen", "PYTHONNOUSERSITE": "1", "TMPDIR": str(self.base)}
        env.update(extra)
        return env

    def run(self, exe: Path | str, *args: str, timeout: float = 600, **env: str):
        start = time.perf_counter()
        res = subprocess.run([str(exe), *args], cwd=self.work, env=self.env(**env), capture_output=True,
                             text=True, timeout=timeout)
        return res, time.perf_counter() - start


def _require_ok(res, what: str) -> None:
    _check(res.returncode == 0, f"{what} exited {res.returncode}\nstdout: {res.stdout[-2000:]}\n"
                                f"stderr: {res.stderr[-4000:]}")


def bundled_default(listing: dict) -> str | None:
    """The bundled default model in `model list --json` output (None: the app bundles none)."""
    return next((m["name"] for m in listing.get("models", []) if m.get("bundled") and m.get("default")), None)


def bundled_default_in(models_dir: Path) -> str | None:
    """The package in a resources/models folder whose manifest says is_default (it ships)."""
    for manifest in sorted(Path(models_dir).glob("*/manifest.json")):
        try:
            doc = json.loads(manifest.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("is_default"):
            return str(doc.get("name") or manifest.parent.name)
    return None


def copy_sample_photos(photos_src: Path, dest: Path, count: int = 20) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted(photos_src.glob("*.jpg"))[:count]:
        shutil.copy2(src, dest / src.name)
    _check(any(dest.iterdir()), f"no sample photos found in {photos_src}")
    return dest


def watch_gui(box: Sandbox, exe: Path, data_dir: Path, quit_after_ms: int = 3000) -> dict:
    """Start the window offscreen; time to first paint of MainWindow; then make sure it closes."""
    env = box.env(CLIPPO_DESKTOP_DATA=str(data_dir), QT_LOGGING_RULES="qt.widgets.painting.debug=true",
                  **{QUIT_AFTER_ENV: str(quit_after_ms)})
    start = time.perf_counter()
    proc = subprocess.Popen([str(exe)], cwd=box.work, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, errors="replace")
    shown = threading.Event()
    shown_at: list[float] = []
    tail: list[str] = []

    def reader() -> None:
        for line in proc.stderr:
            if not shown.is_set() and WINDOW_DRAWN.search(line):
                shown_at.append(time.perf_counter() - start)
                shown.set()
            if not line.startswith("qt.widgets.painting"):
                tail.append(line)
                del tail[:-200]

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + GUI_TIMEOUT_S
    while not shown.is_set() and proc.poll() is None and time.monotonic() < deadline:
        shown.wait(0.05)
    if not shown.is_set():
        proc.kill()
        proc.wait()
        thread.join(5)
        raise SmokeFailure(f"the window was not drawn within {GUI_TIMEOUT_S} s (exit {proc.returncode})\n"
                           + "".join(tail[-60:]))
    # Give the app the chance to quit by itself (QUIT_AFTER_ENV), else close it ourselves.
    try:
        rc = proc.wait(quit_after_ms / 1000 + 5)
        quit_by_itself = True
    except subprocess.TimeoutExpired:
        quit_by_itself = False
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    thread.join(5)
    log = "".join(tail)
    _check("Traceback" not in log, "the window logged a Python traceback:\n" + log[-4000:])
    if quit_by_itself:
        _check(rc == 0, f"the window quit with exit code {rc}:\n{log[-4000:]}")
    return {"gui_window_drawn_s": round(shown_at[0], 2), "gui_quit_by_itself": quit_by_itself, "gui_rc": rc}


def exercise(box: Sandbox, exe: Path, version: str, golden_params: Path | None, photos: Path) -> dict:
    """The user journey on one installed copy; returns measurements. The bundled default model
    is used when the app has one; only otherwise is `golden_params` imported."""
    data = box.base / "data"
    numbers: dict = {}
    res, _ = box.run(exe, "--help")
    _require_ok(res, "--help")
    _check("model" in res.stdout and "search" in res.stdout, "--help does not list the commands")
    res, _ = box.run(exe, "--version")
    _require_ok(res, "--version")
    _check(version in res.stdout + res.stderr, f"--version does not say {version}: {res.stdout!r}")
    res, _ = box.run(exe, "train")
    _check(res.returncode != 0 and "training" in res.stderr, "`train` should explain that torch is absent")

    res, _ = box.run(exe, "model", "list", "--json", CLIPPO_DESKTOP_DATA=str(data))
    _require_ok(res, "model list (fresh data dir)")
    numbers["bundled_model"] = bundled_default(json.loads(res.stdout))
    if numbers["bundled_model"] is None:
        _check(golden_params is not None and Path(golden_params).is_file(),
               "the app bundles no default model and no checkpoint to import was given (--golden-params)")
        res, numbers["model_import_s"] = box.run(exe, "model", "import", str(golden_params), "--name",
                                                 "golden", CLIPPO_DESKTOP_DATA=str(data))
        _require_ok(res, "model import")
        res, _ = box.run(exe, "model", "list", "--json", CLIPPO_DESKTOP_DATA=str(data))
        _require_ok(res, "model list")
        _check("golden" in res.stdout, f"model list does not show the imported model: {res.stdout}")

    res, numbers["index_20_photos_s"] = box.run(exe, "--index", str(photos), "--json",
                                                CLIPPO_DESKTOP_DATA=str(data))
    _require_ok(res, "--index")
    summary = json.loads(res.stdout)
    _check(summary.get("indexed", 0) >= 1 and not summary.get("failed"), f"indexing went wrong: {summary}")

    res, numbers["cli_first_search_s"] = box.run(exe, "search", "a dog", "--json",
                                                 CLIPPO_DESKTOP_DATA=str(data))
    _require_ok(res, "search")
    found = json.loads(res.stdout)
    _check(len(found.get("results", [])) >= 1, f"search found nothing: {res.stdout[:500]}")
    _check(Path(found["results"][0]["path"]).parent == photos, "search returned a path outside the sample")

    res, _ = box.run(exe, "status", "--json", CLIPPO_DESKTOP_DATA=str(data))
    _require_ok(res, "status")
    status = json.loads(res.stdout)
    _check(status["counts"]["indexed"] == summary["indexed"], f"status disagrees with --index: {status}")

    # No CLIPPO_DESKTOP_DATA: the data dir must follow the OS convention inside the scratch HOME.
    res, _ = box.run(exe, "status", "--json")
    _require_ok(res, "status (default data dir)")
    default_dir = Path(json.loads(res.stdout)["data_dir"])
    expected = box.home / ".local" / "share" / "clippo-desktop"
    _check(default_dir == expected, f"default data dir is {default_dir}, expected {expected}")
    numbers["default_data_dir_ok"] = True
    logs = list((box.home / ".local" / "state" / "clippo-desktop").rglob("*.log"))
    numbers["log_file_written"] = bool(logs)  # needs the launcher to call logsetup.setup_logging

    numbers.update(watch_gui(box, exe, data))
    return numbers


def missing_system_libraries(app_dir: Path, plugin: str = "platforms/libqxcb.so") -> list[str]:
    """Libraries a Qt platform plugin cannot find on THIS machine (ldd, with the bundle's own
    folders on the search path as the frozen app sets them). Offscreen smoke tests cannot see a
    missing X11 library; this can. Empty on a system that satisfies the .deb's Depends."""
    internal = app_dir / "_internal"
    path = internal / "PySide6" / "Qt" / "plugins" / plugin
    if not path.is_file() or shutil.which("ldd") is None:
        return []
    search = ":".join(str(p) for p in (internal, internal / "PySide6" / "Qt" / "lib"))
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True,
                         env={"LD_LIBRARY_PATH": search, "PATH": "/usr/bin:/bin"}).stdout
    return sorted(set(re.findall(r"^\s*(\S+) => not found", out, re.M)))


def smoke_deb(deb: Path, version: str, golden_params: Path, photos_src: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="clippo-smoke-deb-") as tmp:
        box = Sandbox(Path(tmp))
        root = box.base / "root"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        fields = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True, text=True).stdout
        _check("Depends: libc6" in fields, "control has no Depends on libc6")
        launcher = (root / "usr/bin/clippo-desktop").read_text()
        target = re.search(r'exec (\S+) "\$@"', launcher)
        _check(target is not None and (root / target.group(1).lstrip("/")).is_file(),
               "/usr/bin/clippo-desktop does not exec the unpacked app")
        for rel in ("usr/share/applications/clippo-desktop.desktop",
                    "usr/share/icons/hicolor/256x256/apps/clippo-desktop.png",
                    "usr/share/icons/hicolor/scalable/apps/clippo-desktop.svg",
                    "usr/share/metainfo/io.github.clippo_desktop.metainfo.xml"):
            _check((root / rel).is_file(), f"the .deb lacks /{rel}")
        _check(not (root / "opt/clippo-desktop/_internal/torch").exists(), "torch is in the bundle")
        photos = copy_sample_photos(photos_src, box.base / "photos")
        numbers = exercise(box, root / "opt/clippo-desktop/clippo-desktop", version, golden_params, photos)
        numbers["xcb_plugin_missing_libs"] = missing_system_libraries(root / "opt/clippo-desktop")
        numbers["unpacked_bytes"] = sum(p.stat().st_size for p in (root / "opt").rglob("*")
                                       if p.is_file() and not p.is_symlink())
        return numbers


def smoke_tarball(tarball: Path, version: str, golden_params: Path, photos_src: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="clippo-smoke-tar-") as tmp:
        box = Sandbox(Path(tmp))
        with tarfile.open(tarball) as tar:
            tar.extractall(box.base / "unpacked", filter="tar")
        top = next((box.base / "unpacked").iterdir())
        res, _ = box.run(top / "install-user.sh")
        _require_ok(res, "install-user.sh")
        wrapper = box.home / ".local" / "bin" / "clippo-desktop"
        entry = (box.home / ".local/share/applications/clippo-desktop.desktop").read_text()
        _check(f"Exec={wrapper}" in entry, "install-user.sh did not point the menu entry at the wrapper")
        photos = copy_sample_photos(photos_src, box.base / "photos")
        return exercise(box, wrapper, version, golden_params, photos)
