"""A download destination in object storage (``--dest s3://bucket/prefix``, ``gs://``).

The downloader fetches, checks and converts in a local working folder (the cache:
``$BTCH_DOWNLOAD_CACHE``, else ``~/.cache/backtrader-channels/downloads``, one folder per
destination) and copies each finished file up: the converted Parquet parts (or, with ``--raw``,
the archive's file and its ``.CHECKSUM``), then ``manifest.json``, after every file. The local
copies of what was copied go, so the disk holds only what is in flight. The bucket's manifest is
read first: what it lists is not fetched again, from any machine (the run is idempotent against
the bucket, not the cache). Credentials are the store's usual ones (``docs/data.md``).
"""

from __future__ import annotations

import hashlib
import os
import shutil

from ..sources import storage

#: the manifest's name, in the destination and in the working folder
MANIFEST = "manifest.json"
_CHUNK = 1 << 20


def cache_root() -> str:
    """Where downloads to object storage work: ``$BTCH_DOWNLOAD_CACHE`` or the user's cache."""
    root = os.environ.get("BTCH_DOWNLOAD_CACHE")
    if root:
        return root
    return os.path.join(os.path.expanduser("~"), ".cache", "backtrader-channels", "downloads")


class RemoteDest:
    """The local working folder of a destination URI, and the copies up to it.

    Parameters
    ----------
    uri : str
        The destination (``s3://bucket/prefix``).
    """

    def __init__(self, uri: str) -> None:
        storage.check_destination(uri)
        self.uri = uri
        key = hashlib.sha256(storage.split_query(uri)[0].encode()).hexdigest()[:16]
        self.local = os.path.join(cache_root(), key)
        os.makedirs(self.local, exist_ok=True)
        remote = storage.join(uri, MANIFEST)
        local = os.path.join(self.local, MANIFEST)
        if storage.isfile(remote):  # the bucket says what is done
            _copy_down(remote, local)
        elif os.path.exists(local):  # an old cache of a destination emptied since
            os.remove(local)

    def push(self, relpaths: list[str]) -> None:
        """Copy these files (relative to the working folder) up, then drop the local copies."""
        for rel in relpaths:
            path = os.path.join(self.local, rel)
            _copy_up(path, storage.join(self.uri, *rel.split(os.sep)))
            os.remove(path)

    def push_manifest(self) -> None:
        """Copy the manifest up (kept locally too: the next file's record adds to it)."""
        _copy_up(os.path.join(self.local, MANIFEST), storage.join(self.uri, MANIFEST))


def _copy_up(path: str, uri: str) -> None:
    with open(path, "rb") as src:
        out = storage.open_output(uri)
        try:
            shutil.copyfileobj(src, out, _CHUNK)
        finally:
            out.close()


def _copy_down(uri: str, path: str) -> None:
    src = storage.open_input(uri)
    try:
        with open(path + ".tmp", "wb") as dst:
            while True:
                block = src.read(_CHUNK)
                if not block:
                    break
                dst.write(block)
    finally:
        src.close()
    os.replace(path + ".tmp", path)
