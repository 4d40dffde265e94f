"""The model manifest: what a model package is, as data.

A model package is a folder with `manifest.json`, the fp32 ONNX graph, usually an int8 variant
and, for a ViT, the canonical weights (`weights.npz`, for fine-tuning; a prebuilt ONNX model has
none). The manifest says everything the app must not hard-code: the architecture,
embedding size, renderer settings (with the font's sha256), the preprocessing mode, prompt
templates, temperature, licence, provenance and a checksum for every file. Unknown preprocessing
modes, unsafe file names and unknown format versions are refused by name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .architecture import Architecture, architecture_from_dict
from .atomic import write_text_atomic
from .errors import ModelIntegrityError
from .preprocess import PREPROCESS_MODES

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
VARIANT_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
WEIGHTS_FILE = "weights.npz"
INT8_MIN_COSINE = 0.99
_SAFE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# big_vision's zero-shot evaluator averages 81 canonicalised CLIP templates. A desktop app
# embeds every label of a vocabulary with every template on first use (493 built-in labels),
# so the default keeps two: the strongest single template and the bare label.
DEFAULT_PROMPT_TEMPLATES = ("a photo of a {}", "{}")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    name: str
    architecture: Architecture
    embedding_dim: int
    temperature: float
    renderer: dict
    preprocess: str
    files: dict[str, FileEntry]
    default_variant: str = "fp32"
    int8_cosine: float | None = None
    prompt_templates: tuple[str, ...] = DEFAULT_PROMPT_TEMPLATES
    provenance: dict = field(default_factory=dict)
    license: str = "unknown"
    metrics: dict = field(default_factory=dict)
    description: str = ""
    is_default: bool = False
    format: int = MANIFEST_FORMAT

    def __post_init__(self) -> None:
        where = f"manifest of model {self.name!r}"
        if self.format != MANIFEST_FORMAT:
            raise ModelIntegrityError(f"The {where} has format {self.format}; this app reads format "
                                      f"{MANIFEST_FORMAT}.", "Update clippo-desktop, or re-import the model.")
        if self.preprocess not in PREPROCESS_MODES:
            raise ModelIntegrityError(f"The {where} asks for preprocessing {self.preprocess!r}, which "
                                      f"this app does not know (known: {', '.join(PREPROCESS_MODES)}).",
                                      "Re-import the model or update clippo-desktop.")
        if self.default_variant not in VARIANT_FILES:
            raise ModelIntegrityError(f"The {where} names an unknown variant {self.default_variant!r}.",
                                      "Re-import the model.")
        for name in self.files:
            if not _SAFE_FILE.match(name) or name in (".", ".."):
                raise ModelIntegrityError(f"The {where} lists an unsafe file name {name!r}.",
                                          "Do not install this model; it may try to escape its folder.")
        if self.embedding_dim != self.architecture.embed_dim:
            raise ModelIntegrityError(f"The {where} says embedding_dim {self.embedding_dim}, but its "
                                      f"architecture embeds into {self.architecture.embed_dim}.",
                                      "Re-import or re-build the model package.")
        if VARIANT_FILES[self.default_variant] not in self.files:
            raise ModelIntegrityError(f"The {where} has no file for its default variant.",
                                      "Re-import the model.")

    def variant_file(self, variant: str | None = None) -> str:
        variant = variant or self.default_variant
        if variant not in VARIANT_FILES or VARIANT_FILES[variant] not in self.files:
            have = [v for v, f in VARIANT_FILES.items() if f in self.files]
            raise ModelIntegrityError(f"Model {self.name!r} has no {variant!r} variant (it has {have}).")
        return VARIANT_FILES[variant]

    # -- (de)serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["architecture"] = self.architecture.to_dict()
        d["prompt_templates"] = list(self.prompt_templates)
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "manifest") -> "Manifest":
        try:
            d = dict(d)
            d["architecture"] = architecture_from_dict(d["architecture"])
            d["files"] = {k: FileEntry(**v) for k, v in d["files"].items()}
            d["prompt_templates"] = tuple(d.get("prompt_templates", DEFAULT_PROMPT_TEMPLATES))
            known = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(d) - known)
            if unknown:
                raise ValueError(f"unknown fields {unknown}")
            return cls(**d)
        except ModelIntegrityError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelIntegrityError(f"{where} is not a valid model manifest ({exc}).",
                                      "Re-import or re-install the model.") from exc

    @classmethod
    def load(cls, folder: Path) -> "Manifest":
        path = Path(folder) / MANIFEST_NAME
        try:
            raw = json.loads(path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise ModelIntegrityError(f"{path} is missing.", "Re-import or re-install the model.") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelIntegrityError(f"{path} cannot be read ({exc}).",
                                      "Re-import or re-install the model.") from exc
        if not isinstance(raw, dict):
            raise ModelIntegrityError(f"{path} is not a JSON object.", "Re-import the model.")
        return cls.from_dict(raw, where=str(path))

    def save(self, folder: Path) -> None:
        write_text_atomic(Path(folder) / MANIFEST_NAME, json.dumps(self.to_dict(), indent=1, ensure_ascii=False))

    # -- checks ------------------------------------------------------------------------------
    def verify_file(self, folder: Path, name: str) -> None:
        """Check one file against its recorded size and sha256; raise ModelIntegrityError."""
        entry = self.files.get(name)
        if entry is None:
            raise ModelIntegrityError(f"Model {self.name!r} does not list {name}.", "Re-import the model.")
        path = Path(folder) / name
        if path.is_symlink() or not path.is_file():
            raise ModelIntegrityError(f"{path} is missing or not a regular file.",
                                      "Re-import or re-install the model.")
        size = path.stat().st_size
        if size != entry.bytes or sha256_file(path) != entry.sha256:
            raise ModelIntegrityError(
                f"{path} does not match its checksum in the manifest (the file is damaged or was "
                "changed).", f"Remove the model (clippo-desktop model remove {self.name}) and import it again.")

    def verify_all(self, folder: Path) -> None:
        for name in self.files:
            self.verify_file(folder, name)


def file_entries(folder: Path, names) -> dict[str, FileEntry]:
    folder = Path(folder)
    return {n: FileEntry(sha256=sha256_file(folder / n), bytes=(folder / n).stat().st_size) for n in names}
