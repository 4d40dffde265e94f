"""Fast checks of the installer recipes in packaging/ (the full build is not run here).

The spec must be valid Python, every data file and folder it names must exist, every hidden
import must be importable and carry a comment, and it must refuse to build from a development
environment. The Linux desktop entry and AppStream metadata must validate, and the Windows and
macOS recipes must exist, parse and name the app.
"""

from __future__ import annotations

import ast
import configparser
import importlib
import importlib.util
import plistlib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
SPEC = PACKAGING / "clippo-desktop.spec"
DESKTOP = PACKAGING / "linux" / "clippo-desktop.desktop"
METAINFO = PACKAGING / "linux" / "io.github.clippo_desktop.metainfo.xml"
# Top-level names of the spec that are plain data (paths, lists); evaluated without PyInstaller.
SPEC_DATA_NAMES = {"APP_NAME", "BUNDLE_ID", "PACKAGING", "ROOT", "RESOURCES", "ICONS", "PKG_RES",
                   "VERSION", "DATA_FILES", "DATA_DIRS", "hiddenimports", "excludes", "ORT_TRANSFORMERS"}


def spec_data() -> dict:
    """Evaluate only the spec's data assignments, with SPECPATH set as PyInstaller sets it."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    keep = [node for node in tree.body if isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and node.targets[0].id in SPEC_DATA_NAMES]
    namespace = {"SPECPATH": str(PACKAGING), "Path": Path, "re": re, "importlib": importlib}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(SPEC), "exec"), namespace)
    return namespace


def test_spec_is_valid_python():
    compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")


def test_every_data_file_and_folder_the_spec_names_exists():
    spec = spec_data()
    assert spec["DATA_FILES"], "the spec names no data files"
    for src, dest in spec["DATA_FILES"]:
        assert Path(src).is_file(), f"the spec collects {src}, which does not exist"
        assert dest.startswith(("clippo_desktop/resources", "licenses")), dest
    for src, dest, optional in spec["DATA_DIRS"]:
        assert optional or Path(src).is_dir(), f"the spec collects the folder {src}, which does not exist"
    named = {Path(src).name for src, _ in spec["DATA_FILES"]}
    assert "unifont-9.0.06-glyphs.npz" in named  # the text renderer cannot work without it


def test_spec_paths_derive_from_the_spec_folder_not_the_working_directory():
    spec = spec_data()
    assert spec["ROOT"] == REPO and spec["RESOURCES"] == REPO / "resources"
    assert "os.getcwd" not in SPEC.read_text() and "Path.cwd" not in SPEC.read_text()


def test_every_hidden_import_exists_and_says_why():
    spec = spec_data()
    lines = SPEC.read_text(encoding="utf-8").splitlines()
    for name in spec["hiddenimports"]:
        # importable as is, or a top-level module in the folder the spec adds to pathex
        found = importlib.util.find_spec(name) is not None or (spec["ORT_TRANSFORMERS"] / f"{name}.py").is_file()
        assert found, f"hidden import {name} does not exist"
        at = next(i for i, line in enumerate(lines) if f'"{name}"' in line)
        above = lines[at - 1].strip()
        assert "#" in lines[at] or above.startswith("#") or above.startswith('"'), \
            f"hidden import {name} has no comment saying why PyInstaller cannot see it"


def test_the_spec_excludes_torch_and_training():
    spec = spec_data()
    assert {"torch", "clippo_desktop.training", "onnxscript"} <= set(spec["excludes"])
    assert not any(name.startswith(("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg"))
                   for name in spec["excludes"])


class _Recorder:
    calls: list = []

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.datas = kwargs.get("datas", [])
        self.pure, self.scripts, self.binaries = [], [], []
        _Recorder.calls.append((type(self).__name__, kwargs))


def test_the_spec_refuses_to_build_from_a_development_environment():
    """Here clippo_desktop is editable (and torch may be installed): the spec must stop at once
    and point to packaging/build.py, instead of producing a ~960 MB bundle or a broken one."""
    stubs = {name: type(name, (_Recorder,), {}) for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    namespace = {"SPECPATH": str(PACKAGING), "SPEC": str(SPEC), "__file__": str(SPEC), **stubs}
    torch_here = importlib.util.find_spec("torch") is not None
    origin = Path(importlib.util.find_spec("clippo_desktop.engine").origin).resolve()
    editable = REPO in origin.parents and "build" not in origin.parts
    if not (torch_here or editable):
        pytest.skip("this environment is a valid build environment")
    with pytest.raises(SystemExit, match="packaging/build.py"):
        exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)


def test_desktop_entry_has_the_required_keys_and_matches_the_launcher_and_icon():
    if shutil.which("desktop-file-validate"):
        res = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
        assert res.returncode == 0 and "error" not in res.stdout.lower(), res.stdout
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    entry = parser["Desktop Entry"]
    for key in ("Type", "Name", "Exec", "Icon", "Categories", "Comment"):
        assert entry.get(key), f"{DESKTOP.name} lacks {key}"
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "clippo-desktop"
    assert entry["Icon"] == "clippo-desktop" and entry["Categories"].endswith(";")
    assert entry.get("Terminal") == "false"


def test_appstream_metadata_names_the_app_and_launches_the_desktop_entry():
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == "io.github.clippo_desktop"
    for tag in ("name", "summary", "metadata_license", "project_license"):
        assert (root.findtext(tag) or "").strip(), f"metainfo lacks <{tag}>"
    assert root.find("description/p") is not None
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == DESKTOP.name
    if shutil.which("appstreamcli"):
        res = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr


def test_deb_scripts_never_touch_user_data_and_say_where_it_stays():
    postrm = (PACKAGING / "linux" / "postrm").read_text()
    assert not re.search(r"(^|\s)rm\s", postrm), "postrm must not delete anything"
    assert ".local/share/clippo-desktop" in postrm
    launcher = (PACKAGING / "linux" / "clippo-desktop.sh").read_text()
    assert 'exec /opt/clippo-desktop/clippo-desktop "$@"' in launcher
    control = (PACKAGING / "linux" / "control.in").read_text()
    assert {"@VERSION@", "@DEPENDS@", "Package: clippo-desktop"} <= set(re.findall(r"@\w+@|Package: \S+", control))


def test_windows_installer_script_installs_both_executables_and_keeps_user_data():
    iss = (PACKAGING / "windows" / "clippo-desktop.iss").read_text()
    assert "clippo-desktop.exe" in iss and "clippo-desktop-cli.exe" in iss
    section = iss.split("[UninstallDelete]", 1)[1].split("\n[", 1)[0]
    uninstall_delete = "\n".join(line for line in section.splitlines() if not line.lstrip().startswith(";"))
    assert "localappdata" not in uninstall_delete.lower(), "the uninstaller must keep the user's library"
    assert "{localappdata}" in iss  # ...and tell the user where it is


def test_macos_info_plist_has_the_bundle_id_documents_and_retina_flag():
    spec = spec_data()
    with open(PACKAGING / "macos" / "Info.plist", "rb") as fh:
        plist = plistlib.load(fh)
    assert plist["CFBundleIdentifier"] == spec["BUNDLE_ID"]
    assert plist["NSHighResolutionCapable"] is True
    types = {t for doc in plist["CFBundleDocumentTypes"] for t in doc["LSItemContentTypes"]}
    assert {"public.jpeg", "public.png", "public.heic"} <= types
    assert all(doc["LSHandlerRank"] == "Alternate" for doc in plist["CFBundleDocumentTypes"])
    with open(PACKAGING / "macos" / "entitlements.plist", "rb") as fh:
        plistlib.load(fh)


def test_dmg_recipe_is_valid_bash():
    res = subprocess.run(["bash", "-n", str(PACKAGING / "macos" / "build_dmg.sh")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_build_script_help_runs():
    res = subprocess.run([sys.executable, str(PACKAGING / "build.py"), "--help"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "--onnxruntime" in res.stdout and "--smoke-only" in res.stdout


def test_onnxruntime_flag_pins_the_projects_version_and_rejects_other_packages():
    sys.path.insert(0, str(PACKAGING))
    try:
        import build_env
    finally:
        sys.path.remove(str(PACKAGING))
    pin = build_env.project_pin(REPO, "onnxruntime")
    assert build_env.onnxruntime_requirement(REPO, "onnxruntime-gpu") == f"onnxruntime-gpu=={pin}"
    assert build_env.onnxruntime_requirement(REPO, "onnxruntime-gpu==1.30.0") == "onnxruntime-gpu==1.30.0"
    with pytest.raises(SystemExit, match="--onnxruntime"):
        build_env.onnxruntime_requirement(REPO, "torch")


def test_pyproject_lists_every_package_so_a_pip_install_ships_them():
    """pyproject names its packages explicitly; a sub-package missing there works in the editable
    install but is absent from `pip install .` and from the packaged app (engine.catalog was)."""
    sys.path.insert(0, str(PACKAGING))
    try:
        import build_env
    finally:
        sys.path.remove(str(PACKAGING))
    assert build_env.missing_packages(REPO) == []


def test_the_smoke_test_uses_the_bundled_default_model_and_imports_one_only_without_it(tmp_path):
    sys.path.insert(0, str(PACKAGING))
    try:
        import smoke
    finally:
        sys.path.remove(str(PACKAGING))
    listing = {"models": [{"name": "golden", "bundled": False, "default": False},
                          {"name": "lite", "bundled": True, "default": True}]}
    assert smoke.bundled_default(listing) == "lite"
    assert smoke.bundled_default({"models": [{"name": "golden", "bundled": False, "default": True}]}) is None
    assert smoke.bundled_default_in(tmp_path) is None
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "manifest.json").write_text('{"name": "other", "is_default": false}')
    (tmp_path / "lite").mkdir()
    (tmp_path / "lite" / "manifest.json").write_text('{"name": "lite", "is_default": true}')
    assert smoke.bundled_default_in(tmp_path) == "lite"


def test_the_spec_ships_bundled_models_but_never_a_half_built_package(tmp_path):
    spec = SPEC.read_text(encoding="utf-8")
    tree = ast.parse(spec)
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_files_under")
    namespace = {"Path": Path, "fail": lambda message: pytest.fail(message)}
    exec(compile(ast.Module(body=[func], type_ignores=[]), str(SPEC), "exec"), namespace)
    for rel in ("lite/manifest.json", "lite/model.onnx", ".lite.staging-1a2b/model.onnx", "lite/.hidden"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    shipped = sorted(Path(src).relative_to(tmp_path).as_posix()
                     for src, _ in namespace["_files_under"](tmp_path, "clippo_desktop/resources/models"))
    assert shipped == ["lite/manifest.json", "lite/model.onnx"]
    models = next(d for d in spec_data()["DATA_DIRS"] if Path(d[0]).name == "models")
    assert models[1] == "clippo_desktop/resources/models" and models[2] is True  # optional
