"""CLI commands for using a library: `search`, `tag` and `duplicates`.

Output is for people on a terminal and for scripts: `--json` prints one JSON document,
`--paths` prints one raw path per line (bytes as the filesystem has them, for xargs).
Exit codes: 0 ok; 1 no results, only with --fail-empty (or a photo that could not be tagged);
2 usage errors (bad option, malformed query); other codes come from the engine's errors.
Searching never takes the library's writer lock, so it works while another process indexes.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import LibraryLockedError
from .paths import resolve_data_dir


def register(sub) -> None:
    p = sub.add_parser("search", help="search the library with words, example photos or both",
                       description="QUERY: text in any language, ./photo.jpg, and 'N:' weights "
                                   "joined by ' + ' / ' - ', e.g. '2:golden retriever' + "
                                   "./pool.jpg - indoor. Use -- before a query starting with '-'.")
    p.add_argument("query", nargs="+", metavar="QUERY")
    p.add_argument("--top", type=int, default=20, help="how many results (default 20)")
    p.add_argument("--offset", type=int, default=0, help="skip this many results (paging)")
    p.add_argument("--in", dest="folder", metavar="DIR", help="only photos under this folder")
    p.add_argument("--after", metavar="DATE", help="taken on or after DATE (YYYY[-MM[-DD]])")
    p.add_argument("--before", metavar="DATE", help="taken before DATE (YYYY[-MM[-DD]])")
    p.add_argument("--type", dest="formats", metavar="TYPES", help="file types, e.g. jpeg,png,heic")
    p.add_argument("--min-score", type=float, help="drop results below this cosine score")
    p.add_argument("--sort", choices=("relevance", "date"), default="relevance")
    p.add_argument("--model", help="model to search with (default: the default model)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--paths", action="store_true", help="print one path per line")
    p.add_argument("--fail-empty", action="store_true", help="exit with 1 when nothing is found")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("tag", help="suggest tags for photos from a vocabulary")
    p.add_argument("paths", nargs="+", metavar="PATH")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--labels", type=Path, metavar="FILE", help="label list: one per line, # comments")
    src.add_argument("--label", action="append", metavar="L", help="a label (repeatable)")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--threshold", type=float, help="keep only labels scoring at least this")
    p.add_argument("--write-xmp", action="store_true", help="merge the tags into PATH.xmp sidecars")
    p.add_argument("--no-store", action="store_true", help="do not save the tags in the catalog")
    p.add_argument("--model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser("duplicates", help="list exact and near-duplicate photos")
    p.add_argument("--threshold", type=float, default=None,
                   help="cosine similarity for near-duplicates (default 0.95)")
    p.add_argument("--model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_duplicates)


# ---- opening the library ---------------------------------------------------------------------

@dataclass
class LibraryView:
    data_dir: Path
    model: object
    catalog: object | None
    index: object | None
    library: object | None = None

    def close(self) -> None:
        if self.library is not None:
            self.library.close()


def open_view(args, *, need_catalog: bool = True) -> LibraryView:
    """Model, catalog and vector index of the data dir, read-only (no writer lock)."""
    from .library import CATALOG_FILE, Library
    from .models import ModelRegistry

    data_dir = resolve_data_dir(args.data_dir)
    name = getattr(args, "model", None)
    if not need_catalog and not (data_dir / CATALOG_FILE).is_file():
        registry = ModelRegistry(data_dir)
        return LibraryView(data_dir, registry.get(name) if name else registry.default(), None, None)
    lib = Library.open(data_dir, model=name, writer=False)
    try:
        index = lib.vectors if need_catalog else None
        return LibraryView(data_dir, lib.model, lib.catalog, index, lib)
    except BaseException:
        lib.close()
        raise


# ---- output helpers --------------------------------------------------------------------------

def json_path(path: str) -> str:
    """A path for JSON: undecodable bytes (surrogate escapes) become U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _print_json(doc) -> None:
    json.dump(doc, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


def _write_paths(paths) -> None:
    sys.stdout.flush()
    out = sys.stdout.buffer
    for path in paths:
        out.write(os.fsencode(path) + b"\n")
    out.flush()


# ---- commands --------------------------------------------------------------------------------

def cmd_search(args) -> int:
    view = open_view(args)
    try:
        results = view.library.searcher().search(
            args.query, top=args.top, offset=args.offset, folder=args.folder, after=args.after,
            before=args.before, formats=args.formats, min_score=args.min_score, sort=args.sort)
    finally:
        view.close()
    if args.json:
        _print_json({"query": results.query, "model": results.model, "total": results.total,
                     "offset": results.offset,
                     "results": [{"path": json_path(h.path), "score": round(h.score, 6),
                                  "photo_id": h.photo_id,
                                  "taken_at": h.taken_at.isoformat() if h.taken_at else None,
                                  "duplicates": h.duplicates} for h in results.results]})
    elif args.paths:
        _write_paths(h.path for h in results.results)
    else:
        if not results.results:
            print(f"No photos match {results.query!r}.", file=sys.stderr)
        for h in results.results:
            extra = f"  (+{h.duplicates} identical)" if h.duplicates else ""
            print(f"{h.score:6.3f}  {json_path(h.path)}{extra}")
    return 1 if args.fail_empty and not results.results else 0


def _vocabulary(args):
    from .vocabularies import default_vocabulary, from_labels, load_vocabulary

    if args.labels is not None:
        return load_vocabulary(args.labels)
    if args.label:
        return from_labels(args.label, "labels")
    return default_vocabulary()


def _store(view, results, model_id: str) -> str | None:
    """Save machine tags under the writer lock; a reason string when they could not be."""
    from .lockfile import LibraryLock
    from .tagging import store_machine_tags

    try:
        with LibraryLock(view.data_dir):
            store_machine_tags(view.catalog, results, model_id)
    except LibraryLockedError as exc:
        return f"tags not saved in the catalog: {exc.message}"
    return None


def cmd_tag(args) -> int:
    from .progress import count_progress
    from .tagging import Tagger
    from .xmp import write_keywords

    vocab = _vocabulary(args)
    view = open_view(args, need_catalog=False)
    tagger = Tagger(view.model, cache_dir=view.data_dir / "cache" / "labels")
    try:
        with count_progress("Embedding labels") as update:
            results = tagger.tag_paths(args.paths, vocab, catalog=view.catalog, top=args.top,
                                       threshold=args.threshold,
                                       progress=lambda d, t: update(d, t))
        warning = None
        if view.catalog is not None and not args.no_store:
            warning = _store(view, results, tagger.model_id)
        roots = [r.path for r in view.catalog.list_roots()] if view.catalog is not None else []
    finally:
        view.close()
    sidecars: dict[str, str] = {}
    for r in results:
        if args.write_xmp and r.error is None:
            root = next((p for p in roots if r.path.startswith(p.rstrip(os.sep) + os.sep)), None)
            sidecars[r.path] = str(write_keywords(r.path, [t for t, _ in r.tags], root=root))
    if warning:
        print(f"clippo-desktop: warning: {warning}", file=sys.stderr)
    if args.json:
        _print_json({"model": view.model.name, "vocabulary": vocab.name, "photos": [
            {"path": json_path(r.path), "tags": [{"label": t, "score": round(s, 6)} for t, s in r.tags],
             **({"error": r.error} if r.error else {}),
             **({"xmp": json_path(sidecars[r.path])} if r.path in sidecars else {})}
            for r in results]})
    else:
        for r in results:
            if r.error:
                print(f"{json_path(r.path)}: cannot tag: {r.error}", file=sys.stderr)
                continue
            tags = ", ".join(f"{t} ({s:.3f})" for t, s in r.tags) or "(no tag above the threshold)"
            print(f"{json_path(r.path)}: {tags}")
    return 1 if any(r.error for r in results) else 0


def cmd_duplicates(args) -> int:
    from .duplicates import DEFAULT_THRESHOLD, find_duplicates

    view = open_view(args)
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    try:
        report = find_duplicates(view.catalog, view.index, view.model.model_id(), threshold=threshold)
    finally:
        view.close()
    if args.json:
        _print_json({"model": view.model.name, "threshold": report.threshold,
                     "exact": [{"content_hash": g.content_hash,
                                "paths": [json_path(p) for p in g.paths]} for g in report.exact],
                     "near": [{"min_similarity": round(g.min_similarity, 6),
                               "mean_similarity": round(g.mean_similarity, 6),
                               "paths": [json_path(p) for p in g.paths]} for g in report.near]})
        return 0
    print(f"Exact duplicates (same bytes): {len(report.exact)} group(s)")
    for g in report.exact:
        print("  " + "\n    ".join(json_path(p) for p in g.paths))
    print(f"Near-duplicates (cosine >= {report.threshold:g}): {len(report.near)} group(s)")
    for g in report.near:
        print(f"  min {g.min_similarity:.3f} mean {g.mean_similarity:.3f}")
        print("    " + "\n    ".join(json_path(p) for p in g.paths))
    return 0
