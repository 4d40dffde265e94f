"""CLI for building and inspecting the library: `--index DIR... [--watch]` and `status`.

`clippo-desktop --index ~/Pictures` adds the folders and indexes them incrementally: a progress
bar on a terminal, nothing on a pipe, and with `--json` exactly one summary document on stdout.
The exit code is 0 when the run completed, even if some files failed (they are listed); only a
run that could not complete (no model, library locked, catalog unusable) exits non-zero.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading

from .paths import resolve_data_dir

log = logging.getLogger(__name__)


def register_top_level(parser) -> None:
    parser.add_argument("--index", nargs="+", metavar="DIR",
                        help="add these folders to the library and index them incrementally")
    parser.add_argument("--model", metavar="NAME", help="model to index with (default: the default model)")
    parser.add_argument("--watch", action="store_true",
                        help="after indexing, keep watching the folders until interrupted")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def wants_top_level(args) -> bool:
    return bool(getattr(args, "index", None))


def register(sub) -> None:
    p = sub.add_parser("status", help="show library folders, photo counts, models and index sizes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)


def json_safe(path: str) -> str:
    """Undecodable filename bytes (surrogate escapes) become U+FFFD so JSON can carry them."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _print_json(doc) -> None:
    json.dump(doc, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def summary_json(summary) -> dict:
    return {"indexed": summary.indexed, "unchanged": summary.unchanged, "moved": summary.moved,
            "removed": summary.removed,
            "failed": [{"path": json_safe(p), "reason": r} for p, r in summary.failed],
            "seconds": round(summary.seconds, 3)}


def _print_summary(summary) -> None:
    err = sys.stderr
    print(f"indexed {summary.indexed}, unchanged {summary.unchanged}, moved {summary.moved}, "
          f"removed {summary.removed}, failed {len(summary.failed)} "
          f"in {summary.seconds:.1f} s", file=err)
    for path in summary.offline:
        print(f"offline (kept): {json_safe(path)}", file=err)
    for path, reason in summary.failed:
        print(f"failed: {json_safe(path)}: {reason}", file=err)
    if summary.cancelled:
        print("interrupted: run again to continue where it stopped", file=err)


def _lower_priority() -> None:
    """Background-friendly: the indexer yields the CPU to interactive work (CLI only)."""
    if hasattr(os, "nice"):
        try:
            os.nice(5)
        except OSError:
            pass


def run_top_level(args) -> int:
    from .library import Library
    from .progress import count_progress

    data_dir = resolve_data_dir(args.data_dir)
    cancel = threading.Event()
    with Library.open(data_dir, model=args.model) as lib:
        _lower_priority()
        roots = lib.add_roots(args.index, watch=args.watch)
        with count_progress("Indexing") as update:
            def progress(p) -> None:
                if p.phase == "scanning":
                    update(0, None, info=f"found {p.found}")
                elif p.phase == "rebuilding":
                    update(p.done, p.total, info="rebuilding the vector index")
                else:
                    eta = f", ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
                    update(p.done + p.failed, p.total,
                           info=f"{p.rate:.1f} photos/s, {p.failed} failed{eta}")

            with _first_interrupt_cancels(cancel):
                summary = lib.index([r.path for r in roots], progress=progress, cancel=cancel)
        if args.json:
            _print_json(summary_json(summary))
        else:
            _print_summary(summary)
        if summary.cancelled:
            return 130
        if args.watch:
            _watch(lib, args.json)
    return 0


@contextlib.contextmanager
def _first_interrupt_cancels(cancel: threading.Event):
    """Ctrl-C once: finish the current batch, save, and stop. Twice: stop at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum, frame) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping after the current batch (Ctrl-C again to stop now)", file=sys.stderr)

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _watch(lib, as_json: bool) -> None:
    """Watch until SIGINT/SIGTERM; each watcher run prints its summary."""
    from .watcher import Watcher

    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def report(summary) -> None:
        if summary.indexed or summary.moved or summary.removed or summary.failed:
            _print_json(summary_json(summary)) if as_json else _print_summary(summary)

    watcher = Watcher(lib, on_summary=report)
    watcher.start()
    print("watching for changes; press Ctrl-C to stop", file=sys.stderr)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        watcher.stop()
        for s, handler in old.items():
            signal.signal(s, handler)
        print("stopped watching", file=sys.stderr)


def cmd_status(args) -> int:
    from .library import CATALOG_FILE, Library

    data_dir = resolve_data_dir(args.data_dir)
    if not (data_dir / CATALOG_FILE).is_file():
        if args.json:
            _print_json({"data_dir": json_safe(str(data_dir)), "roots": [], "counts": {},
                         "models": [], "failed": []})
        else:
            print(f"No library in {data_dir} yet. Index your photos: "
                  "clippo-desktop --index ~/Pictures")
        return 0
    with Library.open(data_dir, model=getattr(args, "model", None), writer=False) as lib:
        st = lib.status()
    if args.json:
        _print_json({
            "data_dir": json_safe(st.data_dir), "catalog_bytes": st.catalog_bytes,
            "roots": [{"path": json_safe(r.path), "online": r.online, "watch": r.watch,
                       "last_scan_at": r.last_scan_at, "counts": r.counts} for r in st.roots],
            "counts": st.counts,
            "models": [{"name": m.name, "model_id": m.model_id, "dim": m.dim,
                        "vectors": m.vectors, "index_bytes": m.index_bytes, "active": m.active}
                       for m in st.models],
            "failed": [{"path": json_safe(p), "reason": r} for p, r in st.failed]})
        return 0
    print(f"Library: {st.data_dir} (catalog {st.catalog_bytes / 1e6:.1f} MB)")
    print("Folders:")
    for r in st.roots or []:
        state = "online" if r.online else "OFFLINE (photos kept)"
        watch = ", watched" if r.watch else ""
        counts = ", ".join(f"{k} {v}" for k, v in r.counts.items())
        print(f"  {json_safe(r.path)}  [{state}{watch}]  {counts}")
    if not st.roots:
        print("  (none)")
    print("Photos: " + ", ".join(f"{k} {v}" for k, v in st.counts.items()))
    print("Models:")
    for m in st.models:
        mark = " (active)" if m.active else ""
        print(f"  {m.name}{mark}: {m.vectors} vectors, {m.dim}-d, index {m.index_bytes / 1e6:.1f} MB "
              f"[{m.model_id}]")
    if st.failed:
        print(f"Failed files: {len(st.failed)} (see `clippo-desktop status --json`)")
    return 0
