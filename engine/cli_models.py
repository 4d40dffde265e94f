"""CLI commands for models and their inputs: `model ...`, `render`, `embed`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import ImageDecodeError, UsageError
from .paths import resolve_data_dir
from .preprocess import PREPROCESS_MODES
from .progress import Spinner, byte_progress


def register(sub) -> None:
    model = sub.add_parser("model", help="import, fetch, list, inspect and remove models")
    msub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    p = msub.add_parser("import", help="import a big_vision CLIPPO checkpoint (.npz)")
    p.add_argument("file", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--replace", action="store_true", help="replace an installed model of that name")
    p.add_argument("--preprocess", choices=PREPROCESS_MODES, default="default")
    p.set_defaults(func=cmd_import)

    p = msub.add_parser("fetch", help="download an official CLIPPO checkpoint and import it")
    p.add_argument("name", help="e.g. clippo_b16_yfcc100m_i21k_init")
    p.add_argument("--url", help="download from this URL instead of Google's bucket")
    p.add_argument("--as", dest="install_name", help="install under another name")
    p.add_argument("--keep", action="store_true", help="keep the downloaded .npz after import")
    p.set_defaults(func=cmd_fetch)

    p = msub.add_parser("install", help="install a model package folder (e.g. a training run)")
    p.add_argument("path", type=Path)
    p.add_argument("--name")
    p.set_defaults(func=cmd_install)

    p = msub.add_parser("list", help="list installed and bundled models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = msub.add_parser("info", help="show a model's manifest")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)

    p = msub.add_parser("remove", help="remove an installed model")
    p.add_argument("name")
    p.set_defaults(func=cmd_remove)

    p = msub.add_parser("default", help="make a model the default")
    p.add_argument("name")
    p.set_defaults(func=cmd_default)

    p = sub.add_parser("render", help="write the exact 224x224 image the model sees for a text")
    p.add_argument("text")
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("embed", help="print embeddings of texts and photos as JSON")
    p.add_argument("--model")
    p.add_argument("--text", action=_Ordered, const="text", dest="items", metavar="T")
    p.add_argument("--image", action=_Ordered, const="image", dest="items", metavar="PATH")
    p.add_argument("--preprocess", choices=PREPROCESS_MODES)
    p.add_argument("--variant", choices=("fp32", "int8"))
    p.add_argument("--json", action="store_true", help="(the output is always JSON)")
    p.set_defaults(func=cmd_embed)


class _Ordered(argparse.Action):
    """Collect --text and --image values into one list, in the order they were typed."""

    def __init__(self, option_strings, dest, const=None, **kw):
        super().__init__(option_strings, dest, nargs=None, const=const, default=None, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.append((self.const, values))
        setattr(namespace, self.dest, items)


def registry_for(args):
    from .models import ModelRegistry

    return ModelRegistry(resolve_data_dir(args.data_dir))


def cmd_import(args) -> int:
    from .model_import import import_checkpoint

    with Spinner(f"Importing {args.file.name}") as spin:
        registry = registry_for(args)
        model = import_checkpoint(args.file, args.name, registry, replace=args.replace,
                                  preprocess=args.preprocess, progress=spin.update)
    print(f"Installed model {model.name!r} ({model.manifest.architecture.summary()}, "
          f"{model.dim}-d, default variant {model.manifest.default_variant}) at {model.path}")
    _hint_if_not_default(registry, model.name)
    return 0


def cmd_fetch(args) -> int:
    from .fetch import download, official_url
    from .model_import import import_checkpoint

    registry = registry_for(args)
    url = args.url or official_url(args.name)
    name = args.install_name or args.name
    dest = registry.data_dir / "downloads" / f"{Path(args.name).name}.npz"
    with byte_progress(f"Downloading {args.name}") as update:
        download(url, dest, progress=update)
    with Spinner(f"Importing {args.name}") as spin:
        model = import_checkpoint(dest, name, registry, progress=spin.update)
    if not args.keep:
        dest.unlink(missing_ok=True)
    print(f"Installed model {model.name!r} at {model.path}")
    _hint_if_not_default(registry, model.name)
    return 0


def _hint_if_not_default(registry, name: str) -> None:
    """A new model does not displace a bundled or chosen default; say how to switch."""
    current = _default_name(registry)
    if current not in (None, name):
        print(f"The default model is still {current!r}; to use this one: clippo-desktop model default {name}")


def cmd_install(args) -> int:
    path = args.path
    if (path / "package" / "manifest.json").is_file():  # a training run folder
        path = path / "package"
    elif (path / "checkpoints").is_dir() and not (path / "manifest.json").is_file():
        raise UsageError(f"{path} is a training run without an exported package.",
                         f"Export it first: python -m clippo_desktop.training.export {path}")
    registry = registry_for(args)
    model = registry.install_package(path, args.name)
    print(f"Installed model {model.name!r} at {model.path}")
    _hint_if_not_default(registry, model.name)
    return 0


def _model_summary(m, default_name: str | None) -> dict:
    man, arch = m.manifest, m.manifest.architecture
    row = {"name": m.name, "default": m.name == default_name, "bundled": m.bundled,
           "dim": m.dim, "variant": man.default_variant, "kind": arch.kind,
           "image_size": arch.image_size, "grid": arch.grid}
    if arch.kind == "vit":
        row.update(width=arch.width, depth=arch.depth, patch=arch.patch_size)
    return {**row, "preprocess": man.preprocess, "license": man.license, "path": str(m.path)}


def _arch_column(row: dict) -> str:
    if row["kind"] == "vit":
        return f"ViT w{row['width']} d{row['depth']}/{row['patch']}"
    return f"ONNX {row['grid']}x{row['grid']}"


def _default_name(registry) -> str | None:
    from .errors import ModelNotFoundError

    try:
        return registry.default().name
    except ModelNotFoundError:
        return None


def cmd_list(args) -> int:
    registry = registry_for(args)
    default = _default_name(registry)
    rows = [_model_summary(m, default) for m in registry.list()]
    if args.json:
        print(json.dumps({"models": rows}, indent=1))
        return 0
    if not rows:
        print("No models installed. Import one with: clippo-desktop model import FILE.npz --name NAME")
        return 0
    for r in rows:
        mark = "*" if r["default"] else " "
        where = "bundled" if r["bundled"] else "installed"
        print(f"{mark} {r['name']:<36} {r['dim']:>4}-d  {_arch_column(r):<15}  {r['variant']:<4}  {where}")
    return 0


def cmd_info(args) -> int:
    m = registry_for(args).get(args.name)
    info = m.manifest.to_dict()
    info["path"] = str(m.path)
    info["bundled"] = m.bundled
    info["size_bytes"] = sum(f.bytes for f in m.manifest.files.values())
    print(json.dumps(info, indent=1, ensure_ascii=False))
    return 0


def cmd_remove(args) -> int:
    path = registry_for(args).remove(args.name)
    print(f"Removed model {args.name!r} ({path})")
    return 0


def cmd_default(args) -> int:
    registry_for(args).set_default(args.name)
    print(f"Default model is now {args.name!r}")
    return 0


def cmd_render(args) -> int:
    from PIL import Image

    from .atomic import atomic_write
    from .render import render_text

    pixels = render_text(_cli_text(args.text))  # (224, 224, 3) uint8
    suffix = args.out.suffix.lower().lstrip(".") or "png"
    fmt = {"jpg": "JPEG", "jpeg": "JPEG"}.get(suffix, suffix.upper())
    with atomic_write(args.out) as f:
        Image.fromarray(pixels).save(f, format=fmt)
    print(f"Wrote {args.out} ({pixels.shape[1]}x{pixels.shape[0]})")
    return 0


def _cli_text(text: str) -> str:
    """Text from argv: undecodable bytes arrive as surrogate escapes; make them U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def cmd_embed(args) -> int:
    import numpy as np

    from .imageio import read_photo

    items = args.items or []
    if not items:
        raise UsageError("Nothing to embed.", "Give at least one --text T or --image PATH.")
    registry = registry_for(args)
    model = registry.get(args.model) if args.model else registry.default()
    mode = args.preprocess or model.manifest.preprocess
    size = model.manifest.architecture.image_size
    pixels = []
    for kind, value in items:
        if kind == "text":
            pixels.append(model.render_texts([_cli_text(value)])[0])
        else:
            try:
                pixels.append(read_photo(value, mode=mode, size=size).pixels)
            except ImageDecodeError as exc:
                raise ImageDecodeError(f"Cannot read {value}: {exc.message}.",
                                       "Check that the file is a complete photo (JPEG, PNG, "
                                       "HEIC, WebP, TIFF, GIF, BMP or camera RAW).") from exc
    z = model.encoder(args.variant).encode(np.stack(pixels))  # (N, E)
    out = {"model": model.name, "dim": int(z.shape[1]),
           "items": [{"kind": k, "input": _cli_text(v), "embedding": [float(x) for x in row]}
                     for (k, v), row in zip(items, z)]}
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
