"""A small real library for the search, tagging and duplicate tests (built once per session).

The golden model's params are imported as model "golden" into a fresh data dir; ~36 real photos
(ImageNet sample + COCO) are copied into two folders, some with EXIF dates, one saved as PNG,
plus an exact byte copy and a re-encoded, resized near copy. They are indexed into a real
SQLite catalog through the catalog's public API with `model.encode_photos` embeddings.
Import the fixtures into a test module with `from tests.search_fixtures import *`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

__all__ = ["search_lib", "Lib"]

DATES = {0: "2018:03:04 09:00:00", 1: "2019:06:01 10:00:00", 2: "2019:06:20 18:30:00",
         3: "2020:01:01 00:00:01", 4: "2021:12:31 23:59:59", 5: "2019:07:01 00:00:00"}


@dataclass
class Lib:
    data_dir: Path
    photos: Path
    model: object
    paths: list[str]
    ids: dict[str, int]
    taken: dict[str, datetime | None]
    formats: dict[str, str]
    exact_copy: tuple[str, str]          # (original, byte copy)
    near_copy: tuple[str, str]           # (original, resized re-encode)
    png: str
    extra: dict = field(default_factory=dict)

    def open(self):
        """(catalog, index) opened the way the CLI opens them: a read-only Library."""
        from clippo_desktop.engine.library import Library

        lib = Library.open(self.data_dir, model=self.model.name, writer=False)
        return lib.catalog, lib.vectors


def _save_with_date(src: Path, dst: Path, when: str | None) -> None:
    im = Image.open(src).convert("RGB")
    exif = Image.Exif()
    if when:
        exif.get_ifd(0x8769)[0x9003] = when
    im.save(dst, quality=90, exif=exif)


def _build_photos(root: Path, shared: Path) -> dict:
    imagenet = sorted((shared / "data" / "imagenet-sample-1k" / "images").glob("*.jpg"))[:24]
    coco = sorted((shared / "data" / "coco-mini" / "val2017").glob("*.jpg"))[:8]
    (root / "trip").mkdir(parents=True)
    (root / "home" / "sub").mkdir(parents=True)
    paths = []
    for i, src in enumerate(imagenet):
        dst = root / ("trip" if i % 2 else "home") / f"in_{i:02d}.jpg"
        _save_with_date(src, dst, DATES.get(i))
        paths.append(dst)
    for i, src in enumerate(coco):
        dst = root / "home" / "sub" / f"coco_{i}.jpg"
        shutil.copyfile(src, dst)
        paths.append(dst)
    odd = root / "home" / os.fsdecode(b"caf\xe9_coco.jpg")     # not valid UTF-8
    os.replace(paths[-1], odd)
    paths[-1] = odd
    png = root / "trip" / "as_png.png"
    Image.open(imagenet[-1]).convert("RGB").save(png)
    paths.append(png)
    exact = root / "trip" / "copy_of_in_00.jpg"
    shutil.copyfile(paths[0], exact)
    paths.append(exact)
    near = root / "home" / "near_in_03.jpg"
    im = Image.open(paths[3])
    im.resize((im.width * 3 // 4, im.height * 3 // 4)).save(near, quality=80)
    paths.append(near)
    return {"paths": [str(p) for p in paths], "exact": (str(paths[0]), str(exact)),
            "near": (str(paths[3]), str(near)), "png": str(png), "odd": str(odd)}


def _index(data_dir: Path, photos: Path, model, paths: list[str]) -> dict[str, int]:
    """Index through the catalog's public API (what the indexer does, minus the pipeline)."""

    from clippo_desktop.engine.catalog import Catalog, PhotoInfo, PhotoMeta, content_hash
    from clippo_desktop.engine.imageio import read_photo

    with Catalog.open(data_dir / "catalog.db") as cat:
        root = cat.add_root(photos)
        infos = []
        for p in paths:
            st = os.stat(p)
            infos.append(PhotoInfo(p, st.st_size, st.st_mtime_ns, content_hash(p)))
        ids = cat.upsert_photos(root.id, infos)
        row = cat.ensure_model(model.model_id(), model.name, model.dim, model.renderer_version)
        emb = model.encode_photos(paths)                                   # (N, E)
        meta = []
        for pid, p in zip(ids, paths):
            d = read_photo(p)
            meta.append(PhotoMeta(pid, d.width, d.height, d.format, d.taken_at))
        cat.store_embeddings(row, list(zip(ids, emb)), meta)
    return dict(zip(paths, ids))


@pytest.fixture(scope="session")
def search_lib(tmp_path_factory, golden_params_path, shared_dir) -> Lib:
    from clippo_desktop.engine.imageio import read_photo
    from clippo_desktop.engine.model_import import import_checkpoint
    from clippo_desktop.engine.models import ModelRegistry

    base = tmp_path_factory.mktemp("searchlib")
    data_dir, photos = base / "data", base / "photos"
    model = import_checkpoint(golden_params_path, "golden", ModelRegistry(data_dir))
    built = _build_photos(photos, shared_dir)
    odd = built["odd"]
    paths = built["paths"]
    ids = _index(data_dir, photos, model, paths)
    decoded = {p: read_photo(p) for p in paths}
    lib = Lib(data_dir, photos, model, paths, ids, {p: d.taken_at for p, d in decoded.items()},
              {p: d.format for p, d in decoded.items()}, built["exact"], built["near"], built["png"],
              {"odd": odd})
    assert np.isfinite(model.encode_texts(["ok"])).all()
    return lib
