"""Run a CLIPPO encoder graph with ONNX Runtime: photos and rendered texts in, embeddings out.

One `Encoder` per model file. The session is created on first use (or `load()`), behind a lock,
so opening a library stays fast and two threads never build two sessions; `unload()` frees the
memory (calls already running keep their reference and finish). ORT's `run` is thread-safe, so
encoding needs no lock. uint8 pixels get big_vision's value_range(-1, 1) in float32, exactly.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from .errors import ModelIntegrityError, UsageError

log = logging.getLogger(__name__)

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CoreMLExecutionProvider", "DmlExecutionProvider",
                       "CPUExecutionProvider")
PROVIDERS_ENV = "CLIPPO_DESKTOP_PROVIDERS"
# Lets ORT's constant folding turn DequantizeLinear-of-a-constant into a float constant at load.
# By default ORT keeps such nodes for QDQ kernel fusion; no package here is QDQ-quantised (the
# dynamic int8 graphs use MatMulInteger), and an int8-weight graph (int8_weights.py) needs the
# fold to run at fp32 speed.
FOLD_WEIGHTS_CONFIG = ("session.disable_quant_qdq", "1")
_SHORT_NAMES = {"cuda": "CUDAExecutionProvider", "coreml": "CoreMLExecutionProvider",
                "dml": "DmlExecutionProvider", "directml": "DmlExecutionProvider", "cpu": "CPUExecutionProvider"}


def default_threads() -> int:
    """Physical cores (hyper-threads do not help sgemm), at least 1."""
    try:
        import psutil

        n = psutil.cpu_count(logical=False)
    except ImportError:  # psutil is a runtime dependency, but stay usable without it
        n = None
    return max(1, n or os.cpu_count() or 1)


def choose_providers(requested: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Explicit list > $CLIPPO_DESKTOP_PROVIDERS > preference order; filtered to what ORT has."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    source = "preference list"
    if requested is None and os.environ.get(PROVIDERS_ENV, "").strip():
        requested = [p.strip() for p in os.environ[PROVIDERS_ENV].split(",") if p.strip()]
        source = f"${PROVIDERS_ENV}"
    elif requested is not None:
        source = "caller"
    wanted = [_SHORT_NAMES.get(p.lower(), p) for p in (requested or PREFERRED_PROVIDERS)]
    chosen = [p for p in wanted if p in available]
    dropped = [p for p in wanted if p not in available]
    if dropped and requested is not None:
        log.warning("execution providers %s (from %s) are not available here; available: %s",
                    dropped, source, sorted(available))
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")  # always keep a fallback that works
    return chosen


def value_range(pixels: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [-1, 1], computed as big_vision does: -1 + (p / 255) * 2."""
    p = pixels.astype(np.float32)
    return np.float32(-1.0) + (p / np.float32(255.0)) * np.float32(2.0)


class Encoder:
    """Encode photos or rendered texts (uint8 (N,S,S,3) or float32 in [-1,1]) to (N, E) float32."""

    def __init__(self, onnx_path: str | os.PathLike, *, threads: int | None = None,
                 providers: list[str] | tuple[str, ...] | None = None, batch_size: int = 8):
        if batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, got {batch_size}.")
        self.path = Path(onnx_path)
        self.threads = threads or default_threads()
        self.batch_size = batch_size
        self._requested = list(providers) if providers is not None else None
        self._lock = threading.Lock()
        self._session = None
        self._image_size = 0
        self._embed_dim = 0

    # -- lifecycle -----------------------------------------------------------------------------
    def load(self):
        """Create the session now (idempotent). Returns the ORT session."""
        with self._lock:
            if self._session is None:
                self._session = self._open()
            return self._session

    def unload(self) -> None:
        """Drop the session; the next encode creates it again."""
        with self._lock:
            self._session = None

    @property
    def loaded(self) -> bool:
        return self._session is not None

    @property
    def provider(self) -> str:
        """The execution provider that runs this model (loads the session if needed)."""
        return self.load().get_providers()[0]

    @property
    def image_size(self) -> int:
        self.load()
        return self._image_size

    @property
    def embed_dim(self) -> int:
        self.load()
        return self._embed_dim

    def _open(self):
        import onnxruntime as ort

        if not self.path.is_file():
            raise ModelIntegrityError(f"Model file {self.path} is missing.",
                                      "Reinstall the model (or re-import its checkpoint).")
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3  # errors only: ORT's graph-cleanup warnings are not the user's business
        so.add_session_config_entry(*FOLD_WEIGHTS_CONFIG)
        providers = choose_providers(self._requested)
        try:
            session = ort.InferenceSession(str(self.path), so, providers=providers)
        except Exception as exc:  # ORT raises several pybind types (InvalidProtobuf, Fail, ...)
            raise ModelIntegrityError(
                f"Cannot open model {self.path}: {str(exc).strip()[:300]}",
                "The file is damaged or incomplete. Reinstall the model, or re-import it from the "
                "checkpoint; a partial download also looks like this.") from exc
        inp, out = session.get_inputs()[0], session.get_outputs()[0]
        if inp.name != "pixels" or len(inp.shape) != 4 or not isinstance(out.shape[-1], int):
            raise ModelIntegrityError(f"{self.path} is not a CLIPPO encoder graph (input {inp.name} {inp.shape}).",
                                      "Use a model package made by clippo-desktop.")
        self._image_size = int(inp.shape[1])
        self._embed_dim = int(out.shape[-1])
        log.info("loaded %s on %s (%d threads)", self.path.name, session.get_providers()[0], self.threads)
        return session

    # -- encoding ------------------------------------------------------------------------------
    def _prepare(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.asarray(pixels)
        s = self._image_size
        if pixels.ndim != 4 or pixels.shape[1:] != (s, s, 3):
            raise UsageError(f"pixels must have shape (N, {s}, {s}, 3), got {pixels.shape}.")
        if pixels.dtype == np.uint8:
            return value_range(pixels)
        if pixels.dtype != np.float32:
            raise UsageError(f"pixels must be uint8 or float32 in [-1, 1], got {pixels.dtype}.")
        return np.ascontiguousarray(pixels)

    def encode_with_attention(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, E) embeddings and (N, num_patches) attention over the patch grid."""
        session = self.load()
        x = self._prepare(pixels)  # (N, S, S, 3) float32
        n = x.shape[0]
        if n == 0:
            attn_dim = session.get_outputs()[1].shape[-1]
            return np.zeros((0, self._embed_dim), np.float32), np.zeros((0, attn_dim), np.float32)
        embs, attns = [], []
        for start in range(0, n, self.batch_size):
            e, a = session.run(None, {"pixels": x[start:start + self.batch_size]})
            embs.append(e)
            attns.append(a)
        return np.concatenate(embs).astype(np.float32, copy=False), np.concatenate(attns)

    def encode(self, pixels: np.ndarray) -> np.ndarray:
        """(N, E) float32 L2-normalised embeddings."""
        return self.encode_with_attention(pixels)[0]

    def __repr__(self) -> str:
        return f"Encoder({str(self.path)!r}, threads={self.threads}, batch_size={self.batch_size})"
