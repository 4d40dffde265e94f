"""Downloading checkpoints: resume after a dropped connection, size checks, no partial installs."""

from __future__ import annotations

import hashlib

import pytest

from clippo_desktop.engine.errors import DownloadError, UsageError
from clippo_desktop.engine.fetch import OFFICIAL_CHECKPOINTS, download, official_url
from tests.httpserver import FileServer


def test_official_names_map_to_google_bucket_urls():
    assert len(OFFICIAL_CHECKPOINTS) == 6
    assert official_url("clippo_b16_100c4") == "https://storage.googleapis.com/big_vision/clippo/clippo_b16_100c4.npz"
    with pytest.raises(UsageError, match="not an official CLIPPO checkpoint"):
        official_url("clippo_b16_typo")


def test_a_dropped_connection_is_resumed_with_a_range_request(golden_params_path, tmp_path):
    data = golden_params_path.read_bytes()
    seen = []
    with FileServer(golden_params_path, drop_after=len(data) // 2) as server:
        out = download(server.url, tmp_path / "m.npz", progress=seen.append, backoff=0)
        requests = server.requests
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert len(requests) == 2 and requests[0]["range"] is None
    assert requests[1]["range"] == f"bytes={len(data) // 2}-"
    assert seen[-1].done == seen[-1].total == len(data)
    assert not (tmp_path / "m.npz.part").exists()


def test_a_partial_file_is_never_the_final_file(golden_params_path, tmp_path):
    with FileServer(golden_params_path, drop_after=1000, drops=100) as server:
        with pytest.raises(DownloadError, match="kept failing"):
            download(server.url, tmp_path / "m.npz", retries=2, backoff=0)
    assert not (tmp_path / "m.npz").exists()
    assert (tmp_path / "m.npz.part").stat().st_size == 3000  # three tries of 1000 bytes, kept to resume


def test_an_existing_partial_download_resumes_where_it_stopped(golden_params_path, tmp_path):
    data = golden_params_path.read_bytes()
    (tmp_path / "m.npz.part").write_bytes(data[:12345])
    with FileServer(golden_params_path) as server:
        download(server.url, tmp_path / "m.npz")
        assert server.requests[0]["range"] == "bytes=12345-"
    assert (tmp_path / "m.npz").read_bytes() == data


def test_a_server_without_range_support_restarts_from_zero(golden_params_path, tmp_path):
    data = golden_params_path.read_bytes()
    (tmp_path / "m.npz.part").write_bytes(b"garbage" * 10)
    with FileServer(golden_params_path, ranges=False) as server:
        download(server.url, tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == data


def test_wrong_size_or_hash_is_refused(golden_params_path, tmp_path):
    with FileServer(golden_params_path) as server:
        with pytest.raises(DownloadError, match="expected 5"):
            download(server.url, tmp_path / "a.npz", expected_size=5)
        with pytest.raises(DownloadError, match="sha256 does not match"):
            download(server.url, tmp_path / "b.npz", sha256="0" * 64)
    assert not (tmp_path / "a.npz").exists() and not (tmp_path / "b.npz").exists()


def test_a_missing_file_gives_the_http_status(golden_params_path, tmp_path):
    with FileServer(golden_params_path) as server:
        with pytest.raises(DownloadError, match="HTTP 404"):
            download(server.url + "x", tmp_path / "c.npz")
