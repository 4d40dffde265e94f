"""Keep watched library folders indexed: filesystem events in, incremental runs out.

One watchdog Observer per watched root turns events into dirty paths (photo files and
folders; hidden/system folders and other extensions are ignored). A single worker thread,
the only one that writes through the Library, waits until events have been quiet for
`debounce` seconds (a camera import or a big copy arrives as hundreds of events), takes the
coalesced set, and runs `Library.index_paths` on it: moves show up as a deleted + a created
path in the same set, so the embedding is kept. Every `interval` seconds it also runs a full
incremental `Library.index()` of the watched roots, which catches what inotify misses
(network drives, events lost to overflow) and brings roots back online.

If an observer cannot start (the inotify watch limit, errno 28 ENOSPC, or a filesystem
without change notification) the root falls back to those periodic rescans only, and a
warning says so and how to raise the limit.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .imageio import is_supported
from .scanner import is_skipped_path

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 600.0
DEFAULT_DEBOUNCE_S = 1.5


class _Handler(FileSystemEventHandler):
    def __init__(self, root: str, on_path: Callable[[str], None]):
        self.root = root
        self.on_path = on_path

    def _relevant(self, path: str, is_dir: bool) -> bool:
        if is_skipped_path(path, self.root):
            return False
        return is_dir or is_supported(path)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type == "modified":
            return                        # a file inside changed: its own event says which
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                path = os.fsdecode(raw)
                if self._relevant(path, event.is_directory):
                    self.on_path(path)


class Watcher:
    """`Watcher(library).start()` ... `.stop()`. Thread-safe; all writes on one worker."""

    def __init__(self, library, *, interval: float = DEFAULT_INTERVAL_S,
                 debounce: float = DEFAULT_DEBOUNCE_S,
                 on_summary: Callable[[object], None] | None = None):
        self.library = library
        self.interval = float(interval)
        self.debounce = float(debounce)
        self.on_summary = on_summary
        self.polling: list[str] = []          # roots without live events (fallback)
        self.runs = 0                         # incremental runs done (for tests/diagnostics)
        self._dirty: set[str] = set()
        self._last_event = 0.0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._observers: dict[str, object] = {}
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._ensure_observers()
        self._thread = threading.Thread(target=self._work, name="clippo-watcher", daemon=True)
        self._thread.start()

    def _ensure_observers(self) -> None:
        """An observer for each watched root that has none (roots come back, limits rise)."""
        for root in self.library.roots():
            if root.watch and root.path not in self._observers:
                self._observe(root.path)

    def _observe(self, path: str) -> None:
        if not os.path.isdir(path):
            return                      # offline: the periodic rescan notices its return
        try:
            observer = Observer()
            observer.schedule(_Handler(path, self._mark), path, recursive=True)
            observer.start()
        except OSError as exc:
            if path not in self.polling:
                self.polling.append(path)
                if exc.errno == errno.ENOSPC:
                    why = ("the inotify watch limit is reached (raise fs.inotify.max_user_watches"
                           ", e.g. `sudo sysctl fs.inotify.max_user_watches=524288`)")
                else:
                    why = f"change notification is unavailable ({exc})"
                log.warning("cannot watch %s live: %s. Falling back to a rescan every %.0f s, "
                            "so changes there show up with that delay.", path, why, self.interval)
            return
        if path in self.polling:
            self.polling.remove(path)
        self._observers[path] = observer

    def stop(self, timeout: float = 30.0) -> None:
        """Stop observers and the worker; a run in progress is cancelled after its batch."""
        self._stop.set()
        self._cancel.set()
        with self._cond:
            self._cond.notify_all()
        for observer in self._observers.values():
            observer.stop()
        for observer in self._observers.values():
            observer.join(timeout)
        self._observers.clear()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # ---- events --------------------------------------------------------------------------------

    def _mark(self, path: str) -> None:
        with self._cond:
            self._dirty.add(path)
            self._last_event = time.monotonic()
            self._cond.notify_all()

    def _take_quiet_batch(self, next_rescan: float) -> set[str] | None:
        """Wait until dirty paths are quiet for `debounce` s (or a rescan is due / stop)."""
        with self._cond:
            while not self._stop.is_set():
                now = time.monotonic()
                if self._dirty and now - self._last_event >= self.debounce:
                    batch, self._dirty = self._dirty, set()
                    return batch
                if now >= next_rescan:
                    return None
                wait = next_rescan - now
                if self._dirty:
                    wait = min(wait, self.debounce - (now - self._last_event))
                self._cond.wait(max(0.01, wait))
            return None

    def _work(self) -> None:
        next_rescan = time.monotonic() + self.interval
        while not self._stop.is_set():
            batch = self._take_quiet_batch(next_rescan)
            if self._stop.is_set():
                return
            try:
                if batch:
                    summary = self.library.index_paths(sorted(batch), cancel=self._cancel)
                else:
                    next_rescan = time.monotonic() + self.interval
                    watched = [r.path for r in self.library.roots() if r.watch]
                    if not watched:
                        continue
                    summary = self.library.index(watched, cancel=self._cancel)
                    self._ensure_observers()
            except Exception:      # keep watching; the next event or rescan retries
                log.exception("watcher run failed")
                continue
            self.runs += 1
            if self.on_summary is not None:
                self.on_summary(summary)
