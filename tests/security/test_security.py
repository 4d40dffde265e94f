"""The security review (docs/security.md), one test per point.

1. Nothing listens on the network: index + search + tag in a child process, whose sockets are
   sampled the whole time with psutil and cross-checked against /proc/net/tcp{,6}.
2. No code path unpickles: a static scan of the shipped code, and a pickled object array fed
   to every loader of user-supplied arrays (a canary file shows whether a pickle ran).
3. Model names and manifests cannot escape the models folder (tests/test_model_registry.py
   covers `../` and absolute names and symlinked model folders; here: symlinked files).
4. Photos are opened read-only and never modified: an audit hook records every open() under
   the photo folder during index + tag + XMP + search; sha256 and mtime are compared too.
5. Downloads are checked (tests/test_fetch.py covers size/hash refusal): a `model fetch --url`
   of a file with the wrong size leaves nothing installed.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from tests.library_fixtures import *  # noqa: F401,F403
from tests.photo_factory import make_good_tree, write_photo

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("engine", "training", "app", "clippo_desktop", "resources")

DRIVER = """
import sys
from clippo_desktop.engine.library import Library
from clippo_desktop.engine.vocabularies import from_labels
data, photos = sys.argv[1], sys.argv[2]
with Library.open(data) as lib:
    lib.add_roots([photos])
    lib.index()
    hits = lib.searcher().search("a red flower", top=3).results
    paths = [h.path for h in hits]
    tags = lib.tagger().tag_paths(paths, from_labels(["cat", "dog", "tree"]),
                                  catalog=lib.catalog)
    print("done", len(hits), len(tags), flush=True)
    sys.stdin.readline()
"""


# ---- 1. nothing listens -------------------------------------------------------------------

def _listening_inodes() -> set[str]:
    """Socket inodes in LISTEN state (st 0A) from /proc/net/tcp and tcp6."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":
                out.add(fields[9])
    return out


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def test_nothing_listens_or_connects_while_indexing_searching_and_tagging(tmp_path, data_dir):
    photos = tmp_path / "photos"
    for i in range(12):
        write_photo(photos / f"p{i}.jpg", i)
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(data_dir), str(photos)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen, listening, samples = [], [], 0
    ps = psutil.Process(proc.pid)
    done = threading.Event()
    line: list[bytes] = []

    def read() -> None:
        line.append(proc.stdout.readline())
        done.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        while not done.is_set() and proc.poll() is None:
            try:
                seen += ps.net_connections(kind="all")
                listening += list(_socket_inodes(proc.pid) & _listening_inodes())
            except (psutil.NoSuchProcess, FileNotFoundError):
                break
            samples += 1
            time.sleep(0.02)
        assert line and line[0].startswith(b"done"), proc.stderr.read().decode()[-2000:]
        final = ps.net_connections(kind="all")          # everything still loaded, idle
        assert not _socket_inodes(proc.pid) & _listening_inodes()
    finally:
        proc.communicate(b"\n", timeout=60)
    assert samples > 5
    assert [c for c in seen + final if c.status == psutil.CONN_LISTEN] == []
    assert [c for c in seen + final if c.family in (2, 10)] == []       # no AF_INET/AF_INET6
    assert listening == []


# ---- 2. no unpickling ---------------------------------------------------------------------

def _py_files(folders) -> list[Path]:
    return [p for f in folders for p in (REPO / f).rglob("*.py") if "__pycache__" not in p.parts]


def _kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name and isinstance(k.value, ast.Constant):
            return k.value.value
    return "missing"


def unpickling_sites(files) -> list[str]:
    """Calls and imports that could unpickle: pickle/dill/joblib/shelve/marshal imports,
    np.load without allow_pickle=False, torch.load without weights_only=True, yaml.load,
    pandas read_pickle."""
    bad = []
    for path in files:
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            name = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            where = f"{name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(
                    node, ast.ImportFrom) and node.module else [])
                if any(n.split(".")[0] in ("pickle", "cPickle", "dill", "joblib", "shelve",
                                           "marshal", "cloudpickle") for n in names):
                    bad.append(f"{where} imports {names}")
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
            attr = node.func.attr
            if owner in ("np", "numpy") and attr == "load" and _kw(node, "allow_pickle") not in (
                    False, "missing"):
                bad.append(f"{where} np.load with allow_pickle not False")
            if owner == "torch" and attr == "load" and _kw(node, "weights_only") is not True:
                bad.append(f"{where} torch.load without weights_only=True")
            if owner == "yaml" and attr in ("load", "unsafe_load", "full_load"):
                bad.append(f"{where} yaml.{attr}")
            if attr == "read_pickle":
                bad.append(f"{where} read_pickle")
    return bad


def test_the_shipped_code_has_no_call_that_could_unpickle():
    files = _py_files(SHIPPED)
    assert len(files) > 50
    assert unpickling_sites(files) == []


def test_np_load_refuses_pickles_by_default_so_a_call_without_the_keyword_is_safe():
    """The scan accepts np.load(...) without allow_pickle (the project's rule is to spell out
    allow_pickle=False; numpy >= 1.16.3 defaults to it): this pins that default."""
    import inspect

    assert inspect.signature(np.load).parameters["allow_pickle"].default is False


def test_the_scan_itself_finds_unsafe_loads(tmp_path):
    sample = tmp_path / "unsafe_sample.py"
    sample.write_text("import pickle\nimport numpy as np\nimport torch, yaml\n"
                      "np.load('x')\nnp.load('x', allow_pickle=True)\ntorch.load('x')\n"
                      "yaml.load(s)\nnp.load('x', allow_pickle=False)\n")
    found = unpickling_sites([sample])
    assert len(found) == 4, found        # pickle import, allow_pickle=True, torch, yaml


class _Canary:
    """Unpickling this creates the canary file (what a malicious pickle would do instead)."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _pickled_npz(path: Path, canary: Path, keys=("params/img/head/bias",)) -> Path:
    arrays = {k: np.array([_Canary(str(canary))], dtype=object) for k in keys}
    np.savez(path, **arrays)          # object arrays are pickled inside the .npz
    return path


def test_a_pickled_array_fed_to_every_loader_is_refused_without_running_it(tmp_path):
    from clippo_desktop.engine.errors import CheckpointError, ClippoError
    from clippo_desktop.engine.model_import import import_checkpoint
    from clippo_desktop.engine.models import ModelRegistry
    from clippo_desktop.engine.npz_reader import read_checkpoint
    from clippo_desktop.training.weights import read_weights_npz

    canary = tmp_path / "canary"
    ckpt = _pickled_npz(tmp_path / "evil.npz", canary)
    with pytest.raises(CheckpointError):
        read_checkpoint(ckpt)
    registry = ModelRegistry(tmp_path / "data")
    with pytest.raises(ClippoError):
        import_checkpoint(ckpt, "evil", registry)
    assert registry.list() == []
    weights = _pickled_npz(tmp_path / "weights.npz", canary, keys=("img/head/bias",))
    with pytest.raises((ValueError, ClippoError)):
        read_weights_npz(weights)
    np.save(tmp_path / "ids.npy", np.array([_Canary(str(canary))], dtype=object),
            allow_pickle=True)
    with pytest.raises(ValueError):
        np.load(tmp_path / "ids.npy", allow_pickle=False)   # what vector_files/tagging do
    assert not canary.exists()


def test_a_pickled_training_checkpoint_is_refused_without_running_it(tmp_path):
    torch = pytest.importorskip("torch")
    from clippo_desktop.engine.errors import CheckpointError
    from clippo_desktop.training.checkpoint import load_checkpoint

    canary = tmp_path / "canary"
    torch.save({"model": _Canary(str(canary))}, tmp_path / "step_1.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "step_1.pt")
    assert not canary.exists()


# ---- 3. model files cannot escape the models folder ---------------------------------------

def test_a_package_whose_model_file_is_a_symlink_is_refused(tmp_path, golden_model_dir):
    import shutil

    from clippo_desktop.engine.errors import ModelIntegrityError
    from clippo_desktop.engine.models import ModelRegistry

    pkg = tmp_path / "pkg"
    shutil.copytree(golden_model_dir, pkg)
    outside = tmp_path / "elsewhere.onnx"
    os.replace(pkg / "model.onnx", outside)
    os.symlink(outside, pkg / "model.onnx")            # same bytes, but outside the package
    registry = ModelRegistry(tmp_path / "data")
    with pytest.raises(ModelIntegrityError, match="not a regular file"):
        registry.install_package(pkg, "linked")
    assert registry.list() == []


def test_an_installed_model_file_swapped_for_a_symlink_is_refused_when_loading(data_dir):
    from clippo_desktop.engine.errors import ModelIntegrityError
    from clippo_desktop.engine.models import ModelRegistry

    model = ModelRegistry(data_dir).get("golden")
    fname = model.manifest.variant_file()
    target = data_dir / "stolen.onnx"
    os.replace(model.path / fname, target)
    os.symlink(target, model.path / fname)
    with pytest.raises(ModelIntegrityError, match="not a regular file"):
        model.encoder()


# ---- 4. photos are opened read-only and never modified ------------------------------------

def _fingerprint(root: Path) -> dict[str, tuple[str, int, int]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(".xmp"):
            st = p.stat()
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_size)
    return out


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def test_photos_are_opened_read_only_and_never_modified_by_index_tag_xmp_and_search(
        tmp_path, data_dir, capsys):
    from clippo_desktop.engine.cli import main

    photos = tmp_path / "photos"
    make_good_tree(photos)
    before = _fingerprint(photos)
    opened: list[tuple[str, object, object]] = []
    active = [True]
    prefix = str(photos) + os.sep

    def hook(event: str, args) -> None:
        if active[0] and event == "open" and isinstance(args[0], (str, bytes)):
            path = os.fsdecode(args[0])
            if path.startswith(prefix):
                opened.append((path, args[1], args[2]))

    sys.addaudithook(hook)
    try:
        d = ["--data-dir", str(data_dir)]
        assert main([*d, "--index", str(photos), "--json"]) == 0
        jpgs = [p for p in before if p.endswith(".jpg")][:4]
        assert main([*d, "tag", *jpgs, "--label", "cat", "--label", "sea", "--write-xmp"]) == 0
        assert main([*d, "search", "beach", "--json"]) == 0
        assert main([*d, "search", "./" + os.path.relpath(jpgs[0]), "--json"]) in (0, 2)
        assert main([*d, "duplicates", "--json"]) == 0
    finally:
        active[0] = False
    capsys.readouterr()
    assert _fingerprint(photos) == before                     # bytes, mtime and size
    assert {p for p in map(str, photos.rglob("*")) if Path(p).is_file()} - set(before) == \
        {p + ".xmp" for p in jpgs}                            # only the sidecars were added
    assert opened, "the audit hook saw no photo being opened"
    writes = []
    for path, mode, flags in opened:
        is_sidecar = ".xmp" in os.path.basename(path)
        if isinstance(mode, str) and any(c in mode for c in "wax+") and not is_sidecar:
            writes.append((path, mode))
        if isinstance(flags, int) and flags & _WRITE_FLAGS and not is_sidecar:
            writes.append((path, flags))
    assert writes == []


# ---- 5. downloads are checked ------------------------------------------------------------

def test_fetching_a_file_of_the_wrong_size_installs_nothing(tmp_path, golden_params_path, capsys):
    from clippo_desktop.engine.cli import main
    from clippo_desktop.engine.models import ModelRegistry
    from tests.httpserver import FileServer

    short = tmp_path / "short.npz"
    data = golden_params_path.read_bytes()
    short.write_bytes(data[: len(data) // 2])           # the server's copy is the wrong size
    data_dir = tmp_path / "data"
    with FileServer(short) as server:
        code = main(["--data-dir", str(data_dir), "model", "fetch", "remote", "--url", server.url])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("clippo-desktop: error: "), err
    assert ModelRegistry(data_dir).list() == []
    models = data_dir / "models"
    assert not models.exists() or [p.name for p in models.iterdir()
                                   if not p.name.startswith(".")] == []
