"""Fetching one archive file over HTTP: resumed from its ``.part`` with a Range request where
the server supports it, retried with backoff on network errors, checked (a published sha256, or
the file's own integrity) and refetched once when the check fails; and the manifest of what is
done (``manifest.json`` in ``--dest``), so that a finished file is never fetched again."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from ..errors import BacktraderChannelsError

#: bytes read per call from a response
CHUNK = 1 << 16
#: the HTTP client's socket timeout (s)
TIMEOUT = 30.0
USER_AGENT = "backtrader-channels-download"


class DownloadError(BacktraderChannelsError, RuntimeError):
    """A file could not be fetched or did not check out (the message names it)."""


class NotFound(BacktraderChannelsError, LookupError):
    """The archive has no such file (HTTP 404)."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"not published (404): {url}")


class Refused(DownloadError):
    """The server refused the file (HTTP 401 or 403): no key, or one not good for it (the
    message names no header: a key never shows)."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"HTTP {code}")


class Transient(BacktraderChannelsError, ConnectionError):
    """A network error worth retrying (the message says which)."""


def _opener(url: str) -> urllib.request.OpenerDirector:
    """urllib's opener; without proxies for a loopback host (a proxy from the environment must
    not see 127.0.0.1)."""
    host = urlsplit(url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def open_url(
    url: str, headers: dict[str, str] | None = None, timeout: float = TIMEOUT
) -> http.client.HTTPResponse:
    """GET ``url``: the response (status 200 or 206), :class:`NotFound` on a 404,
    :class:`Refused` on a 401 or 403, :class:`Transient` on what a retry may cure (connection
    errors, timeouts, 5xx, 429), a :class:`DownloadError` on any other status."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        resp: http.client.HTTPResponse = _opener(url).open(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (401, 403):
            raise Refused(exc.code) from None
        if exc.code == 404:
            raise NotFound(url) from None
        if exc.code == 416:
            raise  # the caller's Range was past the end
        if exc.code >= 500 or exc.code == 429:
            raise Transient(f"HTTP {exc.code} from {url}") from None
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise Transient(f"{url}: {exc}") from None
    return resp


def with_retries(fn: Callable[[], object], what: str, retries: int, backoff: float) -> object:
    """``fn()``, retried ``retries`` times after a :class:`Transient` error (waiting
    ``backoff``, twice that, ...); then a DownloadError naming ``what`` and the last error."""
    for attempt in range(retries + 1):
        try:
            return fn()
        except Transient as exc:
            if attempt == retries:
                raise DownloadError(
                    f"{what}: network error after {retries + 1} attempt(s): {exc}"
                ) from None
            time.sleep(backoff * (2**attempt))
    raise AssertionError("unreachable")


def get_text(url: str, retries: int = 3, backoff: float = 0.5) -> str:
    """A small text file (a ``.CHECKSUM``), with retries; NotFound on a 404."""

    def once() -> str:
        with open_url(url) as resp:
            try:
                return resp.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException) as exc:
                raise Transient(f"{url}: {exc}") from None

    return str(with_retries(once, url, retries, backoff))


def sha256_of(path: str) -> str:
    """The hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Progress:
    """Bytes received, for the summary and an optional tqdm bar (thread-safe)."""

    def __init__(self, show: bool) -> None:
        self.bytes = 0
        self._lock = threading.Lock()
        self._bar = None
        if show:
            import sys

            from tqdm import tqdm

            self._bar = tqdm(total=0, unit="B", unit_scale=True, file=sys.stderr, desc="download")

    def expect(self, n: int) -> None:
        """``n`` more bytes are on their way (a response's length)."""
        if self._bar is not None and n > 0:
            with self._lock:
                self._bar.total = (self._bar.total or 0) + n
                self._bar.refresh()

    def add(self, n: int) -> None:
        """``n`` bytes arrived."""
        with self._lock:
            self.bytes += n
            if self._bar is not None:
                self._bar.update(n)

    def close(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()


def fetch_file(
    url: str,
    path: str,
    progress: Progress,
    retries: int = 3,
    backoff: float = 0.5,
    headers: dict[str, str] | None = None,
) -> bool:
    """Fetch ``url`` into ``path`` through ``path + ".part"``, resuming a part left by an
    earlier attempt with a Range request (a server that answers 200 instead is read from the
    start), sending ``headers`` (an API key's). Returns whether a part was resumed. NotFound
    on a 404, :class:`Refused` on a 401 or 403; a DownloadError naming the file after
    ``retries`` retries of network errors (the part stays, for the next run)."""
    part = path + ".part"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    resumed = False

    def once() -> None:
        nonlocal resumed
        have = os.path.getsize(part) if os.path.exists(part) else 0
        extra = {"Range": f"bytes={have}-"} if have else {}
        try:
            resp = open_url(url, {**(headers or {}), **extra})
        except urllib.error.HTTPError:  # 416: the part is no prefix of the file
            os.remove(part)
            raise Transient(f"{url}: the range of the partial file was refused") from None
        with resp:
            if resp.status == 206 and have:
                resumed = True
                mode = "ab"
                if not resp.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
                    os.remove(part)
                    raise Transient(f"{url}: unexpected Content-Range")
            else:
                mode, have = "wb", 0
            length = int(resp.headers.get("Content-Length") or -1)
            progress.expect(length)
            got = 0
            with open(part, mode) as out:
                try:
                    while block := resp.read1(CHUNK):  # what has come: a kill loses little
                        out.write(block)
                        out.flush()
                        got += len(block)
                        progress.add(len(block))
                except (OSError, http.client.HTTPException) as exc:
                    raise Transient(
                        f"{url}: transfer broke after {have + got} bytes: {exc}"
                    ) from None
            if length >= 0 and got < length:
                raise Transient(f"{url}: transfer broke after {have + got} of {have + length}")
        os.replace(part, path)

    with_retries(once, f"{os.path.basename(path)} ({url})", retries, backoff)
    return resumed


class Manifest:
    """``manifest.json`` in ``--dest``: what each finished archive file was (url, size,
    sha256, rows converted, files written), keyed by ``mode:path in the archive``. Written
    whole after each file (atomically: a crash leaves the old one or the new one)."""

    def __init__(self, dest: str) -> None:
        self.path = os.path.join(dest, "manifest.json")
        self._lock = threading.Lock()
        self.files: dict[str, dict[str, object]] = {}
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as fh:
                self.files = dict(json.load(fh).get("files", {}))

    def get(self, key: str) -> dict[str, object] | None:
        """The record of ``key``, None when it is not done."""
        with self._lock:
            return self.files.get(key)

    def put(self, key: str, record: dict[str, object]) -> None:
        """Record ``key`` as done, and save."""
        with self._lock:
            self.files[key] = record
            tmp = self.path + ".tmp"
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump({"files": self.files}, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
