"""The loopback archive server, shared by the module's tests (faults and the request log are
reset for each test). Nothing here touches the internet."""

from __future__ import annotations

import pytest

from backtrader_channels.loopback.archive import ArchiveFaults, ArchiveServer


@pytest.fixture(scope="package")
def archive_server():
    """One loopback archive (the default days: 2024-06-28 to 2024-08-03)."""
    server = ArchiveServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def archive(archive_server):
    """The shared loopback archive, with no faults and an empty request log."""
    archive_server.faults = ArchiveFaults()
    archive_server.hits.clear()
    return archive_server


@pytest.fixture
def quiet():
    """Collects the downloader's lines instead of printing them."""
    lines: list[str] = []
    return lines
