"""Paths and URIs: a local path goes through ``os``; a URI (``s3://bucket/key``,
``gs://bucket/key``, ``hdfs://host:port/path``, ``file:///path``) through the filesystem pyarrow
opens for it (:mod:`pyarrow.fs`), so that workers on other machines (a Ray cluster) read, and
``convert`` and live recording write, the same data in object storage.

Credentials and endpoints are pyarrow's (the cloud SDKs' standard chain): for S3 the
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE``,
``AWS_DEFAULT_REGION`` and ``AWS_ENDPOINT_URL`` variables or ``~/.aws`` profiles; for GCS
``GOOGLE_APPLICATION_CREDENTIALS``. A URI may also carry pyarrow's options as a query, which
every path built from it keeps: ``s3://bucket/data?endpoint_override=127.0.0.1:9000&scheme=http``
(and ``region=``, ``anonymous=true``, ...); ``s3://KEY:SECRET@bucket/...`` names the keys.

Over a URI the package reads Parquet (native files and the partitioned ``convert`` layout);
CSV and capture files need a local (or mounted) path.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs

__all__ = [
    "check_destination",
    "files_under",
    "is_uri",
    "isdir",
    "isfile",
    "join",
    "listdir",
    "makedirs",
    "open_input",
    "open_output",
    "resolve",
    "size",
    "sized_files_under",
    "split_query",
]

#: schemes whose URI names the bucket where a path would name a host: ``s3://bucket/key`` is
#: the filesystem path ``bucket/key``
_BUCKET_SCHEMES = ("s3", "gs", "gcs")


def is_uri(path: str) -> bool:
    """Whether ``path`` is a URI (``scheme://...``) rather than a local path."""
    return "://" in path


def split_query(uri: str) -> tuple[str, str]:
    """``(uri without its query, "?query" or "")``: the options of a URI, which every path
    joined to it keeps."""
    base, sep, query = uri.partition("?")
    return base, sep + query


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of a URI and the path in it (a FileNotFoundError naming the URI
    when pyarrow cannot open it: an unknown scheme, a bad option)."""
    import pyarrow.fs as pafs

    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise FileNotFoundError(f"cannot open {uri!r}: {exc}") from exc
    return fs, path


def _uri_of(uri: str, fs_path: str) -> str:
    """The URI of ``fs_path``, a path in the filesystem of ``uri`` (its scheme, user and host or
    bucket, and query kept)."""
    base, query = split_query(uri)
    scheme, _, rest = base.partition("://")
    netloc = rest.split("/", 1)[0]
    if scheme in _BUCKET_SCHEMES:  # the bucket is the path's first part: keep any user:key@
        user = netloc.rpartition("@")[0]
        prefix = f"{scheme}://{user}@" if user else f"{scheme}://"
        return prefix + fs_path.lstrip("/") + query
    return f"{scheme}://{netloc}{fs_path}{query}"


def _info(path: str) -> pafs.FileInfo:
    fs, p = resolve(path)
    return fs.get_file_info(p)


def isdir(path: str) -> bool:
    """Whether ``path`` is a directory (under a URI: a prefix holding objects)."""
    if not is_uri(path):
        return os.path.isdir(path)
    import pyarrow.fs as pafs

    return bool(_info(path).type == pafs.FileType.Directory)


def isfile(path: str) -> bool:
    """Whether ``path`` is a file (an object)."""
    if not is_uri(path):
        return os.path.isfile(path)
    import pyarrow.fs as pafs

    return bool(_info(path).type == pafs.FileType.File)


def size(path: str) -> int:
    """The size of a file in bytes."""
    if not is_uri(path):
        return os.path.getsize(path)
    return int(_info(path).size)


def listdir(path: str, missing_ok: bool = False) -> list[str]:
    """The names in a directory (not sorted, as ``os.listdir``); with ``missing_ok``, none for
    a directory that does not exist (else a FileNotFoundError)."""
    if not is_uri(path):
        if missing_ok and not os.path.isdir(path):
            return []
        return os.listdir(path)
    import pyarrow.fs as pafs

    fs, p = resolve(path)
    # GCS lists only objects (and directory markers) one level down, not the folders that
    # deeper objects imply: list below it and take each path's first name
    deep = fs.type_name == "gcs"
    try:
        infos = fs.get_file_info(pafs.FileSelector(p, allow_not_found=missing_ok, recursive=deep))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"no such directory: {path}") from exc
    if not deep:
        return [i.base_name for i in infos]
    start = len(p.rstrip("/")) + 1
    return list(dict.fromkeys(i.path[start:].split("/", 1)[0] for i in infos))


def join(path: str, *names: str) -> str:
    """``path/name/...``; a URI keeps its query at the end."""
    if not is_uri(path):
        return os.path.join(path, *names)
    base, query = split_query(path)
    return "/".join([base.rstrip("/"), *names]) + query


def files_under(path: str, suffixes: tuple[str, ...]) -> list[str]:
    """Every file under a directory, recursively, whose name ends in one of ``suffixes`` (as
    paths, or URIs like ``path``)."""
    if not is_uri(path):
        return [
            os.path.join(root, f)
            for root, _, names in os.walk(path)
            for f in names
            if f.endswith(suffixes)
        ]
    import pyarrow.fs as pafs

    fs, p = resolve(path)
    infos = fs.get_file_info(pafs.FileSelector(p, recursive=True))
    return [
        _uri_of(path, i.path)
        for i in infos
        if i.type == pafs.FileType.File and i.base_name.endswith(suffixes)
    ]


def sized_files_under(path: str, suffixes: tuple[str, ...]) -> list[tuple[str, int]]:
    """``(file, size in bytes)`` of every file under a directory whose name ends in one of
    ``suffixes``, sorted; one recursive listing (object storage: its pages of keys)."""
    if not is_uri(path):
        return sorted((f, os.path.getsize(f)) for f in files_under(path, suffixes))
    import pyarrow.fs as pafs

    fs, p = resolve(path)
    infos = fs.get_file_info(pafs.FileSelector(p, recursive=True))
    return sorted(
        (_uri_of(path, i.path), int(i.size))
        for i in infos
        if i.type == pafs.FileType.File and i.base_name.endswith(suffixes)
    )


def makedirs(path: str) -> None:
    """Create a directory and its parents, as needed. In object storage (S3, GCS) nothing is
    made: an object's key is its whole path, so writing it is enough (and a bucket that does
    not exist is an error when writing, naming it)."""
    if not is_uri(path):
        os.makedirs(path, exist_ok=True)
        return
    fs, p = resolve(path)
    if fs.type_name not in ("s3", "gcs"):
        fs.create_dir(p, recursive=True)


def open_output(path: str) -> pa.NativeFile:
    """A new file (an object) to write, as a pyarrow stream: close it to finish it. An object
    appears whole when its stream closes (a process that dies while uploading leaves none)."""
    if not is_uri(path):
        import pyarrow as pa

        return pa.OSFile(path, "wb")
    fs, p = resolve(path)
    return fs.open_output_stream(p)


def open_input(path: str) -> pa.NativeFile:
    """A file (an object) to read, with random access (Parquet reads its footer first, then
    only the row groups and columns asked for: ranged requests in object storage)."""
    if not is_uri(path):
        import pyarrow as pa

        return pa.OSFile(path, "rb")
    fs, p = resolve(path)
    return fs.open_input_file(p)


def check_destination(path: str) -> None:
    """Fail early, before any input is read, when ``path`` cannot be written: a URI pyarrow
    cannot open, a bucket that does not exist, or a local path that is a file (a
    FileNotFoundError or NotADirectoryError naming it)."""
    if not is_uri(path):
        if os.path.exists(path) and not os.path.isdir(path):
            raise NotADirectoryError(f"{path}: exists and is not a directory")
        return
    import pyarrow.fs as pafs

    fs, p = resolve(path)
    if fs.type_name in ("s3", "gcs"):
        bucket = p.split("/", 1)[0]
        try:
            kind = fs.get_file_info(bucket).type
        except OSError as exc:
            raise FileNotFoundError(f"{path}: cannot reach the bucket {bucket!r}: {exc}") from exc
        if kind == pafs.FileType.NotFound:
            raise FileNotFoundError(f"{path}: the bucket {bucket!r} does not exist (create it)")
    if fs.get_file_info(p).type == pafs.FileType.File:
        raise NotADirectoryError(f"{path}: exists and is not a directory")
