"""SIGKILL the indexer CLI at 30 random points, rerun it, and check nothing was lost or redone.

Run: python bench/crash_campaign.py [--kills 30] [--photos 80] [--seed 1] [--workdir DIR]
     [--golden PATH_TO_golden_params.npz]
Writes bench/results/crash_campaign.json and prints one line per kill.

Kill points are spread over every phase of a run:
  scanning   the scanner's hook (CLIPPO_TEST_KILL_AT="scan:K") kills the child at a random
             folder K of the walk (the tree has ~12k non-photo files in 400 folders);
  decoded, encoded, commit, committed, save
             the pipeline's own hook (CLIPPO_TEST_KILL_AT="PHASE:K") at a random batch K;
  random     a timer SIGKILLs the child at a uniformly random moment of a normal run.
After each kill a rerun must leave: PRAGMA integrity_check ok; every photo exactly once; the
hnswlib graph's labels equal to the catalog's embedding ids; every embedding committed before
the kill unchanged (same created_at: not re-encoded); and the rerun encoding only the rest.
CLIPPO_DESKTOP_EXACT_THRESHOLD=0 makes the vector index keep an hnswlib file even this small.
`run_point` and friends are imported by tests/fault/test_crash_campaign.py (a few kills in CI).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
ENV = {"CLIPPO_DESKTOP_EXACT_THRESHOLD": "0"}
HOOK_PHASES = ("decoded", "encoded", "commit", "committed", "save")
BATCH = 16


@dataclass
class PointResult:
    kind: str                  # scanning | random | one of HOOK_PHASES
    detail: str                # "batch 3", "t=2.41 s", ...
    killed: bool               # the child died of SIGKILL (False: it finished first)
    committed_before: int
    reencoded: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    run_s: float = 0.0         # how long the first (killed) process ran

    @property
    def ok(self) -> bool:
        return not self.problems


def make_tree(root: Path, photos: int, *, filler_dirs: int = 400, filler_files: int = 30) -> None:
    """`photos` small JPEGs under root/p/, plus non-photo filler that makes the walk take time."""
    sys.path.insert(0, str(REPO))
    from tests.photo_factory import write_photo

    for i in range(photos):
        write_photo(root / "p" / f"d{i % 4}" / f"img_{i:04d}.jpg", i, (64, 48))
    for d in range(filler_dirs):
        folder = root / "filler" / f"f{d // 20:02d}" / f"g{d:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(filler_files):
            (folder / f"note_{j:02d}.txt").write_bytes(b"")


def cli(data_dir: Path, photo_dir: Path, extra_env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, **ENV, **(extra_env or {})}
    return subprocess.Popen([sys.executable, "-m", "clippo_desktop", "--data-dir", str(data_dir),
                             "--index", str(photo_dir), "--json"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_after(proc: subprocess.Popen, seconds: float) -> bool:
    try:
        proc.wait(seconds)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def committed(db: Path) -> tuple[dict[int, float], str]:
    """photo id -> embedding created_at, and the integrity check result (no catalog yet: {})."""
    if not db.exists():
        return {}, "ok"
    with sqlite3.connect(db) as conn:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        try:
            rows = dict(conn.execute("SELECT photo_id, created_at FROM embeddings"))
        except sqlite3.OperationalError:          # killed before the schema was created
            rows = {}
    return rows, check


def check_library(data_dir: Path, photo_paths: set[str], before: dict[int, float],
                  summary: dict) -> tuple[list[str], int]:
    """Invariants after the rerun: (problems, number of committed photos encoded again)."""
    import hnswlib

    problems: list[str] = []
    after, check = committed(data_dir / "catalog.db")
    if check != "ok":
        problems.append(f"integrity_check: {check}")
    with sqlite3.connect(data_dir / "catalog.db") as conn:
        rows = conn.execute("SELECT id, path, status FROM photos").fetchall()
    paths = [os.fsdecode(p) if isinstance(p, bytes) else p for _, p, _ in rows]
    if len(paths) != len(set(paths)):
        problems.append(f"duplicated photo rows: {len(paths) - len(set(paths))}")
    if set(paths) != photo_paths:
        problems.append(f"photos lost: {len(photo_paths - set(paths))}, "
                        f"unknown: {len(set(paths) - photo_paths)}")
    if any(s != "indexed" for _, _, s in rows):
        problems.append("photos not indexed: " + str(sum(s != "indexed" for _, _, s in rows)))
    if set(after) != {i for i, _, _ in rows}:
        problems.append("embeddings do not match photo rows")
    reencoded = sum(1 for i, t in before.items() if after.get(i) != t)
    if reencoded:
        problems.append(f"{reencoded} photos committed before the kill were encoded again")
    if summary.get("indexed") != len(photo_paths) - len(before):
        problems.append(f"rerun indexed {summary.get('indexed')}, expected "
                        f"{len(photo_paths) - len(before)}")
    vec_root = data_dir / "vectors"
    folders = [p for p in vec_root.iterdir() if p.is_dir()] if vec_root.is_dir() else []
    if len(folders) != 1:
        problems.append(f"expected one vector index folder, found {len(folders)}")
    else:
        meta = json.loads((folders[0] / "index.json").read_text())
        graph = hnswlib.Index(space="ip", dim=int(meta["dim"]))
        graph.load_index(str(folders[0] / meta["file"]))
        labels = graph.get_ids_list()
        if len(labels) != len(set(labels)) or set(labels) != set(after):
            problems.append(f"hnswlib labels ({len(labels)}) != catalog ids ({len(after)})")
        if list(folders[0].glob(".*.tmp")):
            problems.append("temp files of a killed save were left behind")
    return problems, reencoded


def run_point(kind: str, rng: random.Random, data_dir: Path, photo_dir: Path,
              photo_paths: set[str], full_run_s: float) -> PointResult:
    """One kill and one rerun on a fresh data dir (which must already hold models/)."""
    started = time.monotonic()
    batches = -(-len(photo_paths) // BATCH)
    if kind in HOOK_PHASES:
        batch = rng.randint(1, batches)
        proc = cli(data_dir, photo_dir, {"CLIPPO_TEST_KILL_AT": f"{kind}:{batch}"})
        proc.wait()
        killed, detail = proc.returncode == -signal.SIGKILL, f"batch {batch}"
    elif kind == "scanning":
        folders = 1 + sum(1 for p in photo_dir.rglob("*") if p.is_dir())
        k = rng.randint(1, folders)
        proc = cli(data_dir, photo_dir, {"CLIPPO_TEST_KILL_AT": f"scan:{k}"})
        proc.wait()
        killed, detail = proc.returncode == -signal.SIGKILL, f"folder {k} of {folders}"
    else:
        t = rng.uniform(0.2, full_run_s)
        proc = cli(data_dir, photo_dir)
        killed, detail = kill_after(proc, t), f"t={t:.2f} s"
    run_s = time.monotonic() - started
    before, check = committed(data_dir / "catalog.db")
    result = PointResult(kind, detail, killed, len(before), run_s=run_s)
    if check != "ok":
        result.problems.append(f"integrity after the kill: {check}")
    rerun = cli(data_dir, photo_dir)
    out, err = rerun.communicate(timeout=600)
    if rerun.returncode != 0:
        result.problems.append(f"rerun exit {rerun.returncode}: {err.decode()[-400:]}")
    else:
        problems, reencoded = check_library(data_dir, photo_paths, before, json.loads(out))
        result.problems += problems
        result.reencoded = reencoded
    result.seconds = time.monotonic() - started
    return result


def plan(kills: int, rng: random.Random) -> list[str]:
    """Kill kinds spread evenly: scanning, the five hook phases and random moments."""
    kinds = ["scanning", *HOOK_PHASES, "random"]
    out = [kinds[i % len(kinds)] for i in range(kills)]
    rng.shuffle(out)
    return out


def install_golden(models_dir: Path, golden_params: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from clippo_desktop.engine.model_import import import_checkpoint
    from clippo_desktop.engine.models import ModelRegistry

    base = models_dir.parent
    if not (models_dir / "golden" / "manifest.json").is_file():
        import_checkpoint(golden_params, "golden", ModelRegistry(base))
    return models_dir / "golden"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--photos", type=int, default=80)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/clippo-crash-campaign"))
    ap.add_argument("--golden", type=Path,
                    default=REPO.parent / "shared" / "golden" / "clippo_ti16_golden_params.npz")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = args.workdir
    photo_dir = work / "photos"
    if not photo_dir.is_dir():
        make_tree(photo_dir, args.photos)
    photo_paths = {str(p) for p in photo_dir.rglob("*.jpg")}
    model = install_golden(work / "model-home" / "models", args.golden)

    def fresh() -> Path:
        d = work / "data"
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(model, d / "models" / "golden")
        return d

    t0 = time.monotonic()
    ref = cli(fresh(), photo_dir)
    ref.communicate()
    full_run_s = time.monotonic() - t0
    print(f"reference run: {full_run_s:.1f} s for {len(photo_paths)} photos")
    results = []
    for i, kind in enumerate(plan(args.kills, rng)):
        for _ in range(4):          # a timer can outlast a run on a busy machine: try again
            r = run_point(kind, rng, fresh(), photo_dir, photo_paths, full_run_s)
            if r.killed or kind != "random":
                break
            full_run_s = r.run_s     # the run just finished in this long: aim inside it
        results.append(r)
        state = "ok" if r.ok else "FAIL " + "; ".join(r.problems)
        print(f"{i + 1:2d} {kind:<10} {r.detail:<12} killed={r.killed!s:<5} "
              f"committed={r.committed_before:3d} {r.seconds:5.1f} s  {state}", flush=True)
    killed = [r for r in results if r.killed]
    doc = {"kills_tried": len(results), "kills_landed": len(killed),
           "survived": sum(r.ok for r in killed), "failures": sum(not r.ok for r in results),
           "photos": len(photo_paths), "reference_run_s": round(full_run_s, 2),
           "seed": args.seed, "by_kind": {k: sum(r.kind == k and r.killed for r in results)
                                          for k in ["scanning", *HOOK_PHASES, "random"]},
           "points": [asdict(r) for r in results]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "crash_campaign.json").write_text(json.dumps(doc, indent=1))
    print(f"kills landed {len(killed)}/{len(results)}, survived {doc['survived']}/{len(killed)}, "
          f"failures {doc['failures']}")
    return 0 if doc["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
