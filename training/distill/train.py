"""The distillation loop: resumable, time-boxed, evaluated on the held-out rows as it goes.

Each step draws a text batch (curriculum phase by samples seen; row crops, some full canvases)
and, every `photo_every` steps, a photo batch, and minimises

    text:  w_reg·(1 - cos(student, USE-m)) + w_con·InfoNCE(student, USE-m batch)
           + w_tr·InfoNCE(rendered text, its rendered translation) + w_cls·CE(concept, class)
           + w_chars·CE(per-column character)
    photo: w_photo·(1 - cos(student, teacher photo target)) + w_kl·KL(teacher classes ‖ student)

Photo targets (training photos only: ImageNet classes with index % 10 >= 3, COCO train2017):
the label bridge restricted to training classes, averaged with the text teacher's embedding of
the true class prompt / the photo's captions. The run folder holds config.json, metrics.jsonl,
checkpoints/last.pt (every `ckpt_minutes`) and checkpoints/best.pt (best quick-eval score).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from clippo_desktop.engine.render import RendererSettings, render_texts

from . import sources
from .curriculum import PhotoSampler
from .student import Student
from .teachers import TextTeacher, bridge_embeddings, softmax


@dataclass
class DistillConfig:
    image_size: int = 160
    text_batch: int = 24
    photo_batch: int = 4
    photo_every: int = 2
    lr: float = 5e-4
    trunk_lr_mult: float = 0.3
    wd: float = 0.01
    warmup: int = 100
    phases: str = ""  # "" = curriculum.DEFAULT_PHASES
    full_canvas: float = 0.15  # share of text batches on the full canvas (1.0 = no row crops)
    w_reg: float = 1.0
    w_con: float = 0.5
    w_tr: float = 0.5
    w_cls: float = 0.5
    w_chars: float = 0.5
    w_photo: float = 1.0
    w_kl: float = 0.5
    eval_minutes: float = 12.0
    ckpt_minutes: float = 4.0
    seed: int = 0


def score(metrics: dict[str, float]) -> float:
    """One number for 'best checkpoint': the quick rows that reading and photos both move."""
    return sum(metrics.get(k, 0.0) for k in ("q_imagenet_en_r1", "q_coco_t2i_r10", "q_m30k_en2de_r1"))


def to_input(pixels: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    x = torch.as_tensor(np.ascontiguousarray(pixels)).to(device).float()
    return x / 127.5 - 1.0  # uint8 -> [-1, 1]


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def resize_photos(crops: list[np.ndarray], size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 crops (h, w, 3) -> float (B, size, size, 3) in [-1, 1], antialiased bilinear."""
    out = []
    for c in crops:
        x = torch.from_numpy(np.ascontiguousarray(c)).to(device).float().permute(2, 0, 1)[None]  # (1,3,h,w)
        out.append(F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False))
    return (torch.cat(out).permute(0, 2, 3, 1) / 127.5 - 1.0).clamp(-1, 1)


class StudentEmbedder:
    """Embeds with a torch student exactly as the app would: full canvases, square photos."""

    def __init__(self, model: Student, image_size: int, cache: Path | None = None, batch: int = 16):
        self.model, self.size, self.batch = model.eval(), image_size, batch
        self.settings = RendererSettings(image_size=image_size)
        cache = Path(cache or sources.cache_dir())
        self._photos: dict[str, tuple[np.ndarray, int]] = {}
        for name, photos in (("imagenet", [p.path for p in sources.imagenet_photos()]),
                             ("coco", [p.path for p in sources.coco_photos("train2017") + sources.coco_photos("val2017")])):
            arr = np.load(cache / f"photos_{name}.npy", mmap_mode="r")
            self._photos.update({str(p): (arr, i) for i, p in enumerate(photos)})

    @classmethod
    def from_run(cls, run: Path, which: str = "best") -> "StudentEmbedder":
        model, cfg, _ = load_student(run, which)
        return cls(model, cfg.image_size)

    @torch.no_grad()
    def _embed(self, x: torch.Tensor) -> np.ndarray:
        return self.model(x.to(_device(self.model)))["embedding"].float().cpu().numpy()

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        out = [self._embed(to_input(render_texts(texts[i:i + self.batch], self.settings)))
               for i in range(0, len(texts), self.batch)]
        return np.concatenate(out)

    def encode_photos(self, paths: list[Path]) -> np.ndarray:
        from .teachers import teacher_pixels

        crops = []
        for p in paths:
            hit = self._photos.get(str(p))
            crops.append(np.asarray(hit[0][hit[1]]) if hit else teacher_pixels(Path(p)))
        out = [self._embed(resize_photos(crops[i:i + self.batch], self.size))
               for i in range(0, len(crops), self.batch)]
        return np.concatenate(out)


def _class_tables(cache: Path):
    class_text = np.load(cache / "class_text.npy").astype(np.float32)  # (1000, 512)
    train = np.array([c for c in range(1000) if not sources.is_held_out(c)])  # (700,)
    return class_text, train


def build_student(cache: Path, charset_size: int) -> Student:
    class_text, train = _class_tables(cache)
    return Student(torch.from_numpy(class_text), torch.from_numpy(train), n_chars=charset_size)


def photo_targets(cache: Path) -> PhotoSampler:
    """Training photos and their targets (held-out classes and COCO val2017 excluded)."""
    class_text, train = _class_tables(cache)
    allowed = np.zeros(1000, bool)
    allowed[train] = True
    photos = sources.imagenet_photos()
    keep = np.array([not sources.is_held_out(p.class_index) for p in photos])
    lg_in = np.load(cache / "logits_imagenet.npy").astype(np.float32)[keep]  # (700, 1000)
    cls = np.array([p.class_index for p in photos])[keep]
    t_in = bridge_embeddings(lg_in, class_text, allowed) + class_text[cls]
    coco_train = sources.coco_photos("train2017")
    lg_co = np.load(cache / "logits_coco.npy").astype(np.float32)[: len(coco_train)]
    text = TextTeacher()
    caps = np.stack([text.encode(list(c.captions)).mean(axis=0) for c in coco_train])  # (80, 512)
    t_co = bridge_embeddings(lg_co, class_text, allowed) + caps / np.linalg.norm(caps, axis=1, keepdims=True)
    targets = np.concatenate([t_in, t_co])
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    probs = softmax(np.concatenate([lg_in, lg_co])[:, train])  # (780, 700) teacher over train classes
    pix = np.concatenate([np.load(cache / "photos_imagenet.npy", mmap_mode="r")[keep],
                          np.load(cache / "photos_coco.npy", mmap_mode="r")[: len(coco_train)]])
    return PhotoSampler(pix, targets.astype(np.float32), probs.astype(np.float32))


def info_nce(a: torch.Tensor, b: torch.Tensor, temp: float = 0.05) -> torch.Tensor:
    logits = a @ b.T / temp  # (n, n)
    labels = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def text_loss(model: Student, tb, cfg: DistillConfig) -> tuple[torch.Tensor, dict[str, float]]:
    dev = _device(model)
    out = model(to_input(tb.pixels, dev), chars=cfg.w_chars > 0)
    z, t = out["embedding"], torch.from_numpy(tb.target).to(dev)
    t = F.normalize(t, dim=-1)
    parts = {"reg": (1 - (z * t).sum(-1)).mean(), "con": info_nce(z, t)}
    pair = torch.from_numpy(tb.pair).to(dev)
    first = torch.nonzero(pair > torch.arange(len(pair), device=dev)).flatten()
    if len(first) >= 2:
        parts["tr"] = info_nce(z[first], z[pair[first]])
    cls = torch.from_numpy(tb.cls).to(dev)
    if (cls >= 0).any():
        parts["cls"] = F.cross_entropy(out["logits"][cls >= 0], cls[cls >= 0])
    if "chars" in out and (tb.chars >= 0).any():
        parts["chars"] = F.cross_entropy(out["chars"], torch.from_numpy(tb.chars).to(dev), ignore_index=-100)
    weights = {"reg": cfg.w_reg, "con": cfg.w_con, "tr": cfg.w_tr, "cls": cfg.w_cls, "chars": cfg.w_chars}
    loss = sum(weights[k] * v for k, v in parts.items())
    return loss, {f"t_{k}": v.item() for k, v in parts.items()}


def photo_loss(model: Student, batch, cfg: DistillConfig) -> tuple[torch.Tensor, dict[str, float]]:
    crops, targets, probs = batch
    dev = _device(model)
    out = model(resize_photos(crops, cfg.image_size, dev))
    reg = (1 - (out["embedding"] * torch.from_numpy(targets).to(dev)).sum(-1)).mean()
    kl = F.kl_div(out["logits"].log_softmax(-1), torch.from_numpy(probs).to(dev), reduction="batchmean")
    return cfg.w_photo * reg + cfg.w_kl * kl, {"p_reg": reg.item(), "p_kl": kl.item()}


def load_student(run: Path, which: str = "best"):
    path = run / "checkpoints" / f"{which}.pt"
    if not path.exists():
        path = run / "checkpoints" / "last.pt"
    state = torch.load(path, weights_only=True, map_location="cpu")
    cfg = DistillConfig(**state["config"])
    model = build_student(Path(state["cache"]), int(state["n_chars"]))
    model.load_state_dict(state["model"])
    return model.eval(), cfg, state
