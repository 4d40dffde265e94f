"""Index a folder in this process and print what happened as JSON (run as a subprocess).

    python -m tests.hostile.index_corpus DATA_DIR FOLDER [VANISH_LIST]

VANISH_LIST is a file of hex-encoded paths deleted when the indexer reports its first
"indexing" progress, i.e. after the scan and before any decode: files that disappear while
being read. The JSON carries paths as hex of their bytes (names need not be UTF-8), the peak
RSS of this process, and the summary counts. The parent reads the peak memory of this child
with resource.getrusage(RUSAGE_CHILDREN) as well.
"""

from __future__ import annotations

import json
import os
import resource
import sys


def _hex(path: str) -> str:
    return os.fsencode(path).hex()


def main(argv: list[str]) -> int:
    from clippo_desktop.engine.library import Library

    data_dir, folder = argv[0], argv[1]
    vanish = []
    if len(argv) > 2:
        with open(argv[2]) as f:
            vanish = [os.fsdecode(bytes.fromhex(line.strip())) for line in f if line.strip()]
    phases: list[str] = []

    def progress(p) -> None:
        if not phases or phases[-1] != p.phase:
            phases.append(p.phase)
        if p.phase == "indexing" and vanish:
            for path in vanish:
                os.unlink(path)
            vanish.clear()

    with Library.open(data_dir) as lib:
        lib.add_roots([folder])
        summary = lib.index(progress=progress)
        status = lib.status()
        indexed = [r.path for r in lib.catalog.get_photos(
            sorted(int(i) for i in lib.vectors.ids().tolist()))]
    doc = {"indexed": summary.indexed, "failed": [[_hex(p), r] for p, r in summary.failed],
           "status_failed": [[_hex(p), r] for p, r in status.failed],
           "indexed_paths": [_hex(p) for p in indexed], "phases": phases,
           "cancelled": summary.cancelled,
           "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    json.dump(doc, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
