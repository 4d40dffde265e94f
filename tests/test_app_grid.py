"""The results grid stays lazy: 100k hits cost a list, and only visible thumbnails are asked for."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QApplication

from clippo_desktop.app.grid import ResultsModel, ResultsView, ThumbnailLoader
from clippo_desktop.app.tasks import TaskRunner
from clippo_desktop.app.thumbcache import ThumbCache
from clippo_desktop.engine.search import SearchHit


class CountingLoader(ThumbnailLoader):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.asked: set[str] = set()

    def pixmap(self, path):
        self.asked.add(path)
        return super().pixmap(path)


def test_a_hundred_thousand_results_only_load_visible_thumbnails(qtbot, tmp_path):
    runner = TaskRunner()
    loader = CountingLoader(runner, ThumbCache(tmp_path / "thumbs"))
    model = ResultsModel(loader)
    view = ResultsView(model)
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    hits = [SearchHit(i, str(tmp_path / f"missing_{i}.jpg"), 1.0 - i * 1e-6) for i in range(100_000)]
    started = time.perf_counter()
    model.set_hits(hits)
    QApplication.processEvents()
    view.scrollToBottom()
    QApplication.processEvents()
    elapsed = time.perf_counter() - started
    print(f"\n100k results: shown and scrolled to the end in {elapsed * 1000:.0f} ms")
    assert model.rowCount() == 100_000
    assert 0 < len(loader.asked) < 200               # two screens of cells, not 100k
    assert str(tmp_path / "missing_99999.jpg") in loader.asked
    model.set_min_score(1.0 - 50_000e-6)
    assert model.rowCount() == 50_001
    runner.shutdown()
    assert runner.wait(10_000)
