"""The one way off the UI thread.

`TaskRunner.run(op, on_done, on_error=None, on_progress=None, writer=False)` runs `op` on a worker thread of a
QThreadPool. `op` receives a `TaskContext` (progress reporting and cancellation) and returns plain
data; it must never touch widgets. Results, progress and errors come back on the UI thread through
Qt signals. Errors show a dialog by default. Every part of the window that does I/O, decoding,
encoding or database work goes through here, so the event loop never stalls.
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

log = logging.getLogger(__name__)


class TaskContext:
    """Handed to the work function: report progress, and check whether to stop."""

    def __init__(self, signals: "_Signals"):
        self._signals = signals
        self._cancel = threading.Event()

    def progress(self, value: Any) -> None:
        self._signals.task_did_progress.emit(value)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        return self._cancel


class _Signals(QObject):
    task_did_finish = Signal(object)
    task_did_fail = Signal(object)
    task_did_progress = Signal(object)


class _Runnable(QRunnable):
    def __init__(self, op: Callable[[TaskContext], Any], signals: _Signals, ctx: TaskContext):
        super().__init__()
        self.op, self.signals, self.ctx = op, signals, ctx
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.op(self.ctx)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the UI
            log.debug("task failed:\n%s", traceback.format_exc())
            self.signals.task_did_fail.emit(exc)
        else:
            self.signals.task_did_finish.emit(result)


class TaskHandle(QObject):
    """What `run` returns: cancel it, or wait for its signals."""

    def __init__(self, signals: _Signals, ctx: TaskContext):
        super().__init__()
        self.signals, self.ctx = signals, ctx
        self.done = False
        signals.task_did_finish.connect(self._mark_done)
        signals.task_did_fail.connect(self._mark_done)

    @Slot(object)
    def _mark_done(self, _value) -> None:
        self.done = True

    def cancel(self) -> None:
        self.ctx.cancel()


class TaskRunner(QObject):
    """Owns the worker pools: one for light jobs (thumbnails, queries), one serial writer."""

    def __init__(self, parent: QObject | None = None, *, error_handler: Callable[[BaseException], None] | None = None,
                 max_threads: int = 2):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.writer = QThreadPool(self)  # library writes are serialised: one at a time
        self.writer.setMaxThreadCount(1)
        self.error_handler = error_handler
        self._live: set[TaskHandle] = set()
        self.alive = True

    def _guard(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """Callbacks are dropped after shutdown(): their widgets may already be gone."""
        def call(value: Any) -> None:
            if self.alive:
                fn(value)
        return call

    def run(self, op: Callable[[TaskContext], Any], on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None,
            on_progress: Callable[[Any], None] | None = None, *, writer: bool = False) -> TaskHandle:
        signals = _Signals()
        ctx = TaskContext(signals)
        handle = TaskHandle(signals, ctx)
        if on_done:
            signals.task_did_finish.connect(self._guard(on_done))
        signals.task_did_fail.connect(self._guard(on_error or self._default_error))
        if on_progress:
            signals.task_did_progress.connect(self._guard(on_progress))
        self._live.add(handle)
        # Forget the handle only after the emission is over: dropping the last reference to
        # the signals object inside one of its own slots would delete it mid-emission.
        signals.task_did_finish.connect(lambda _=None: QTimer.singleShot(0, lambda: self._live.discard(handle)))
        signals.task_did_fail.connect(lambda _=None: QTimer.singleShot(0, lambda: self._live.discard(handle)))
        (self.writer if writer else self.pool).start(_Runnable(op, signals, ctx))
        return handle

    def _default_error(self, exc: BaseException) -> None:
        if self.error_handler:
            self.error_handler(exc)
        else:
            log.error("background task failed: %s", exc)

    def shutdown(self) -> None:
        """Cancel everything and deliver no more results (the window is going away)."""
        self.alive = False
        self.cancel_all()

    def cancel_all(self) -> None:
        for handle in list(self._live):
            handle.cancel()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until all work has stopped (used when the window closes)."""
        return self.pool.waitForDone(msecs) and self.writer.waitForDone(msecs)
