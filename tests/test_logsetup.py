"""The program's log file: written to the user log dir, rotated, configured once."""

from __future__ import annotations

import logging

import pytest

from clippo_desktop import logsetup


@pytest.fixture
def clean_root_logger():
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield root
    for h in root.handlers:
        if h not in before:
            h.close()
    root.handlers[:] = before
    root.setLevel(level)


def test_messages_go_to_the_log_file_with_a_start_line(tmp_path, monkeypatch, clean_root_logger):
    monkeypatch.setenv(logsetup.LOG_DIR_ENV, str(tmp_path / "logs"))
    path = logsetup.setup_logging(verbose=False)
    assert path == tmp_path / "logs" / "clippo-desktop.log"
    logging.getLogger("clippo_desktop.engine.indexer").info("indexed 3 photos")
    logging.getLogger("clippo_desktop.engine.indexer").debug("not in a quiet log")
    for h in clean_root_logger.handlers:
        h.flush()
    text = path.read_text(encoding="utf-8")
    assert "start: clippo-desktop" in text and "indexed 3 photos" in text
    assert "not in a quiet log" not in text


def test_calling_it_twice_adds_no_second_handler_and_verbose_lowers_the_levels(tmp_path, monkeypatch,
                                                                               clean_root_logger):
    monkeypatch.setenv(logsetup.LOG_DIR_ENV, str(tmp_path))
    logsetup.setup_logging(verbose=False)
    count = len(clean_root_logger.handlers)
    logsetup.setup_logging(verbose=True)
    assert len(clean_root_logger.handlers) == count
    file_handler = next(h for h in clean_root_logger.handlers
                        if isinstance(h, logging.FileHandler) and getattr(h, logsetup._MARK, False))
    assert file_handler.level == logging.DEBUG


def test_the_log_rotates_instead_of_growing_without_end(tmp_path, monkeypatch, clean_root_logger):
    monkeypatch.setenv(logsetup.LOG_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(logsetup, "MAX_BYTES", 2000)
    logsetup.setup_logging()
    log = logging.getLogger("clippo_desktop.test")
    for i in range(200):
        log.warning("line %d %s", i, "x" * 40)
    assert (tmp_path / "clippo-desktop.log.1").is_file()
    assert (tmp_path / "clippo-desktop.log").stat().st_size <= 2000 + 200


def test_an_unwritable_log_dir_leaves_stderr_logging_working(tmp_path, monkeypatch, clean_root_logger):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log folder should be")
    monkeypatch.setenv(logsetup.LOG_DIR_ENV, str(blocker / "logs"))
    assert logsetup.setup_logging() is None
    assert any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in clean_root_logger.handlers)
