"""Paths and URIs: a local path goes through ``os``; a URI (``s3://bucket/key``,
``gs://...``, ``hdfs://...``, ``file:///...``) through the filesystem pyarrow opens for it, so
that workers on other machines (a Ray cluster) can read the same data from object storage.

Over a URI the package reads Parquet (native files and the partitioned ``convert`` layout);
CSV and capture files need a local (or mounted) path.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow.fs as pafs


def is_uri(path: str) -> bool:
    """Whether ``path`` is a URI (``scheme://...``) rather than a local path."""
    return "://" in path


def _resolve(uri: str) -> tuple[pafs.FileSystem, str, str]:
    """``(filesystem, path in it, prefix)``; ``prefix + path`` is the URI again."""
    import pyarrow.fs as pafs

    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except Exception as exc:
        raise FileNotFoundError(f"cannot open {uri!r}: {exc}") from exc
    return fs, path, uri.split("://", 1)[0] + "://"


def _info(path: str) -> pafs.FileInfo:
    fs, p, _ = _resolve(path)
    return fs.get_file_info(p)


def isdir(path: str) -> bool:
    if not is_uri(path):
        return os.path.isdir(path)
    import pyarrow.fs as pafs

    return bool(_info(path).type == pafs.FileType.Directory)


def isfile(path: str) -> bool:
    if not is_uri(path):
        return os.path.isfile(path)
    import pyarrow.fs as pafs

    return bool(_info(path).type == pafs.FileType.File)


def size(path: str) -> int:
    """The size of a file in bytes."""
    if not is_uri(path):
        return os.path.getsize(path)
    return int(_info(path).size)


def listdir(path: str) -> list[str]:
    """The names in a directory (not sorted, as ``os.listdir``)."""
    if not is_uri(path):
        return os.listdir(path)
    import pyarrow.fs as pafs

    fs, p, _ = _resolve(path)
    return [i.base_name for i in fs.get_file_info(pafs.FileSelector(p))]


def join(path: str, *names: str) -> str:
    if not is_uri(path):
        return os.path.join(path, *names)
    return "/".join([path.rstrip("/"), *names])


def files_under(path: str, suffixes: tuple[str, ...]) -> list[str]:
    """Every file under a directory, recursively, whose name ends in one of ``suffixes``."""
    if not is_uri(path):
        return [
            os.path.join(root, f)
            for root, _, names in os.walk(path)
            for f in names
            if f.endswith(suffixes)
        ]
    import pyarrow.fs as pafs

    fs, p, prefix = _resolve(path)
    infos = fs.get_file_info(pafs.FileSelector(p, recursive=True))
    return [
        prefix + i.path
        for i in infos
        if i.type == pafs.FileType.File and i.base_name.endswith(suffixes)
    ]
