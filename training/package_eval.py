"""`clippo-desktop eval`: the held-out evaluation of issue 9, run on an installed model package.

The rows, chance levels and teacher numbers are `training/distill/eval.py`'s; the model is the
engine's `InstalledModel`, so it is measured exactly as the app runs it (ONNX Runtime, the
manifest's renderer and preprocessing). Nothing here, nor in `distill.eval` and `distill.sources`,
imports torch; the launcher imports this module only when `eval` is asked for, so the engine
never imports training code.

The evaluation reads `$CLIPPO_SHARED/data` (default ../shared/data beside the repository):
coco-mini, imagenet-sample-1k and multi30k. Non-English ImageNet class names come from the
`clip-benchmark` package (Babel-ImageNet); without it only English is evaluated, and the report
says so. `--record` merges the numbers into the model's manifest `metrics` (one atomic write);
a bundled package is read-only, which is said rather than skipped.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from clippo_desktop.engine.errors import UsageError

from .distill import eval as heldout
from .distill import sources

DATA_FOLDERS = ("coco-mini", "imagenet-sample-1k", "multi30k")


def check_shared_data() -> Path:
    """The evaluation data folder; a UsageError naming what is missing when it is incomplete."""
    data = sources.shared_data_dir()
    missing = [str(data / name) for name in DATA_FOLDERS if not (data / name).is_dir()]
    if missing:
        raise UsageError(f"The evaluation data is missing: {', '.join(missing)} not found.",
                         f"CLIPPO_SHARED must point to the folder that holds data/ (now "
                         f"{data.parent}); set it, e.g. CLIPPO_SHARED=/path/to/shared clippo-desktop eval ...")
    return data


def clip_benchmark_available() -> bool:
    try:
        import clip_benchmark  # noqa: F401  (only its Babel-ImageNet JSON is read)
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class EvalReport:
    model: str
    quick: bool
    languages: tuple[str, ...]  # ImageNet class-name languages evaluated
    metrics: dict[str, float]
    chance: dict[str, float]
    teacher: dict[str, float]   # the teacher's numbers for the same rows (from teacher_metrics.json)

    def table(self) -> str:
        return heldout.format_table({"chance": self.chance, "teacher": self.teacher, "model": self.metrics})

    def to_dict(self) -> dict:
        return {**asdict(self), "languages": list(self.languages)}

    @property
    def record_key(self) -> str:
        return "heldout_eval_quick" if self.quick else "heldout_eval"


def evaluate_model(model, *, quick: bool = False, english_only: bool = False,
                   log: Callable[[str], None] = lambda _m: None) -> EvalReport:
    """Run the held-out rows on `model` (anything with encode_texts / encode_photos)."""
    check_shared_data()
    langs = ("en",) if quick or english_only else tuple(sources.EVAL_LANGS)
    metrics = heldout.evaluate(model, quick=quick, log=log, langs=langs)
    chance = heldout.chance(quick, langs)
    teacher = {k: v for k, v in heldout.teacher_metrics().items() if k in metrics}
    return EvalReport(getattr(model, "name", "model"), quick, langs, metrics, chance, teacher)


def record_entry(report: EvalReport) -> dict:
    """What a manifest's `metrics[report.record_key]` holds: rows, chance, teacher, when, by what."""
    from clippo_desktop import __version__

    entry = {k: v for k, v in report.to_dict().items() if k not in ("model", "quick")}
    entry["evaluated"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    entry["tool"] = f"clippo-desktop {__version__} eval"
    return entry


def record(registry, report: EvalReport):
    """Merge the report into the model's manifest metrics; ReadOnlyError for a bundled model."""
    return registry.record_metrics(report.model, {report.record_key: record_entry(report)})


def run(args) -> int:
    """The `eval` command (argparse namespace from the launcher). Raises ClippoError."""
    from clippo_desktop.engine.atomic import write_text_atomic
    from clippo_desktop.engine.errors import ReadOnlyError
    from clippo_desktop.engine.models import ModelRegistry
    from clippo_desktop.engine.paths import resolve_data_dir

    check_shared_data()
    registry = ModelRegistry(resolve_data_dir(args.data_dir))
    model = registry.get(args.model) if args.model else registry.default()
    english_only = not args.quick and not clip_benchmark_available()
    if english_only:
        print("clip-benchmark is not installed, so only English class names are evaluated "
              "(python -m pip install clip-benchmark adds de, fr, es, zh, ja, ru, ar).", file=sys.stderr)
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if args.verbose else (lambda _m: None)
    report = evaluate_model(model, quick=args.quick, english_only=english_only, log=log)
    print(report.table())
    print(f"model = {model.name} ({'quick set' if args.quick else 'full held-out set'}; "
          f"ImageNet names in {', '.join(report.languages)})")
    if args.json:
        write_text_atomic(args.json, json.dumps(report.to_dict(), indent=1, sort_keys=True) + "\n")
    if args.record:
        try:
            record(registry, report)
        except ReadOnlyError as exc:
            print(f"clippo-desktop: not recorded: {exc}", file=sys.stderr)
            return exc.exit_code
        print(f"recorded as metrics[{report.record_key!r}] in {model.path / 'manifest.json'}")
    return 0
