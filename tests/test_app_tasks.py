"""TaskRunner (app/tasks.py): work leaves the UI thread and comes back by signal."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread

from clippo_desktop.app.tasks import TaskRunner


def test_result_comes_back_on_the_ui_thread_after_running_elsewhere(qtbot):
    runner = TaskRunner()
    ui = QThread.currentThread()
    seen = {}

    def op(ctx):
        seen["worker"] = threading.current_thread().name
        return 41 + 1

    def done(value):
        seen["value"], seen["on_ui"] = value, QThread.currentThread() is ui

    runner.run(op, done)
    qtbot.waitUntil(lambda: "value" in seen, timeout=5000)
    assert seen["value"] == 42 and seen["on_ui"]
    assert seen["worker"] != threading.current_thread().name
    assert runner.wait(5000)


def test_errors_and_progress_reach_their_handlers(qtbot):
    runner = TaskRunner()
    progress, errors = [], []

    def op(ctx):
        for i in range(3):
            ctx.progress(i)
        raise ValueError("broken photo")

    runner.run(op, lambda v: None, errors.append, progress.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert progress == [0, 1, 2]
    assert isinstance(errors[0], ValueError)


def test_cancelling_a_handle_sets_the_event_the_op_watches(qtbot):
    runner = TaskRunner()
    started, results = threading.Event(), []

    def op(ctx):
        started.set()
        return ctx.cancel_event.wait(10)

    handle = runner.run(op, results.append, writer=True)
    assert started.wait(5)
    handle.cancel()
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert results == [True] and handle.done


def test_writer_tasks_run_one_at_a_time_in_order(qtbot):
    runner = TaskRunner(max_threads=4)
    order, active, peak = [], [0], [0]
    lock = threading.Lock()

    def op(i):
        def run(ctx):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            threading.Event().wait(0.02)
            with lock:
                active[0] -= 1
            return i
        return run

    for i in range(5):
        runner.run(op(i), order.append, writer=True)
    qtbot.waitUntil(lambda: len(order) == 5, timeout=5000)
    assert order == [0, 1, 2, 3, 4] and peak[0] == 1
