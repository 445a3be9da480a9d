"""A loopback of the venues' public archives on 127.0.0.1: Binance's data.binance.vision (its
S3 bucket listing, ``.zip`` + ``.CHECKSUM``, 404 for a day or a month not published) and
Bybit's public.bybit.com and quote-saver.bycsi.com paths (``.csv.gz``, ``.data.zip``) and
Tardis.dev's datasets API (``/v1/...``, its keys: :mod:`.tardis_archive`), with
Range requests and fault switches (a slow transfer, a connection cut mid-file, a corrupted
file, a 503), and a log of every request. Its files are made from the bundled recordings
(:mod:`.archive_files`). Point the downloader at it with ``base_url=server.url`` (or
``$BTCH_BINANCE_ARCHIVE_URL`` / ``$BTCH_BYBIT_ARCHIVE_URL`` / ``$BTCH_TARDIS_URL``)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from aiohttp import web

from .archive_files import ArchiveFiles
from .tardis_archive import PREFIX as TARDIS_PREFIX
from .tardis_archive import TardisFiles

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass
class ArchiveFaults:
    """Fault switches; each dict maps a part of a file's path to how many more requests of
    it the fault hits (``.CHECKSUM`` requests are never hit, except by ``missing``)."""

    #: answer 404 for these (paths or parts of them), always
    missing: set[str] = field(default_factory=set)
    #: send half of the file, then cut the connection
    cut: dict[str, int] = field(default_factory=dict)
    #: send bytes that do not match the checksum (one byte changed in the middle)
    corrupt: dict[str, int] = field(default_factory=dict)
    #: answer HTTP 503
    unavailable: dict[str, int] = field(default_factory=dict)
    #: send at most this many bytes a second (None: as fast as possible)
    slow_bytes_per_s: float | None = None
    #: ignore Range headers (answer 200 with the whole file)
    no_range: bool = False

    def take(self, switch: dict[str, int], path: str) -> bool:
        """Whether ``switch`` hits ``path`` now (and count it)."""
        for key, n in switch.items():
            if n > 0 and key in path:
                switch[key] = n - 1
                return True
        return False


@dataclass(frozen=True)
class Hit:
    """One request the server answered."""

    path: str
    range: str | None
    status: int


class ArchiveServer:
    """The loopback archive server (an aiohttp app in a thread of its own).

    Parameters
    ----------
    files : ArchiveFiles, optional
        What it serves (by default :class:`ArchiveFiles` ``()``).
    tardis : TardisFiles, optional
        Tardis.dev's datasets (by default :class:`~.tardis_archive.TardisFiles` ``()``).

    Examples
    --------
    >>> with ArchiveServer() as server:  # doctest: +SKIP
    ...     download_binance(["BTCUSDT"], ["trades"], d0, d1, "data/", base_url=server.url)
    """

    def __init__(
        self, files: ArchiveFiles | None = None, tardis: TardisFiles | None = None
    ) -> None:
        self.files = files or ArchiveFiles()
        self.tardis = tardis or TardisFiles()
        self.faults = ArchiveFaults()
        self.hits: list[Hit] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the base URL of both archives."""
        return f"http://127.0.0.1:{self.port}"

    def requests_for(self, part: str) -> list[Hit]:
        """The requests whose path contains ``part``."""
        with self._lock:
            return [h for h in self.hits if part in h.path]

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> int:
        """Serve on 127.0.0.1 in a background thread; the port."""
        self._thread = threading.Thread(target=self._serve, name="loopback-archive", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the loopback archive did not start")
        return self.port

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is not None and self._runner is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            try:
                fut.result(5)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> ArchiveServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    # ---- requests ----------------------------------------------------------------------------
    def _log(self, path: str, rng: str | None, status: int) -> None:
        with self._lock:
            self.hits.append(Hit(path, rng, status))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.lstrip("/")
        rng = request.headers.get("Range")
        if path in ("", "data.binance.vision") and "prefix" in request.query:
            self._log(path, None, 200)
            return self._listing(request)
        f = self.faults
        if any(m in path for m in f.missing):
            self._log(path, rng, 404)
            return web.Response(status=404, text="Not Found")
        tardis = path.startswith(TARDIS_PREFIX)
        refused = (
            self.tardis.refusal(path, request.headers.get("Authorization")) if tardis else None
        )
        if refused is not None:
            self._log(path, rng, refused.status)
            return refused
        body = self.tardis.get(path) if tardis else self.files.get(path)
        if body is None:
            self._log(path, rng, 404)
            return _not_found(path)
        plain = not path.endswith(".CHECKSUM")
        if plain and f.take(f.unavailable, path):
            self._log(path, rng, 503)
            return web.Response(status=503, text="Service Unavailable")
        if plain and f.take(f.corrupt, path):
            mid = len(body) // 2
            body = body[:mid] + bytes([body[mid] ^ 0xFF]) + body[mid + 1 :]
        start = _range_start(rng) if rng and not f.no_range else None
        if start is not None and start >= len(body):
            self._log(path, rng, 416)
            return web.Response(status=416, headers={"Content-Range": f"bytes */{len(body)}"})
        status = 206 if start is not None else 200
        self._log(path, rng, status)
        resp = web.StreamResponse(status=status)
        resp.content_type = "application/octet-stream"
        resp.content_length = len(body) - (start or 0)
        resp.headers["Accept-Ranges"] = "bytes"
        if start is not None:
            resp.headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        await resp.prepare(request)
        try:
            await self._send(request, resp, body[start or 0 :], plain and f.take(f.cut, path))
        except ConnectionError:  # the client went away (killed, or it gave up)
            pass
        return resp

    async def _send(
        self, request: web.Request, resp: web.StreamResponse, payload: bytes, cut: bool
    ) -> None:
        """Send ``payload``: paced when slow, or half of it and the connection cut."""
        f = self.faults
        if cut:
            await resp.write(payload[: len(payload) // 2])
            await resp.drain()
            if request.transport is not None:
                request.transport.abort()  # mid-file: the client sees a short body
            return
        slow = f.slow_bytes_per_s
        step = max(1024, int(slow / 20)) if slow else 16_384
        for i in range(0, len(payload), step):
            await resp.write(payload[i : i + step])
            if f.slow_bytes_per_s:
                await asyncio.sleep(step / f.slow_bytes_per_s)
        await resp.write_eof()

    def _listing(self, request: web.Request) -> web.Response:
        """The S3 ``ListBucketResult`` of a prefix (``delimiter=/``), ``max-keys`` a page."""
        prefix = request.query.get("prefix", "")
        marker = request.query.get("marker", "")
        max_keys = int(request.query.get("max-keys", "1000"))
        entries: dict[str, bool] = {}  # key or common prefix -> is a folder
        for p in self.files.paths():
            if not p.startswith("data/") or not p.startswith(prefix):
                continue
            rest = p[len(prefix) :]
            if "/" in rest:
                entries[prefix + rest.split("/", 1)[0] + "/"] = True
            else:
                entries[p] = False
                entries[p + ".CHECKSUM"] = False
        keys = [k for k in sorted(entries) if k > marker]
        page, truncated = keys[:max_keys], len(keys) > max_keys
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<ListBucketResult xmlns="{S3_NS}"><Name>data.binance.vision</Name>'
            f"<Prefix>{escape(prefix)}</Prefix><Marker>{escape(marker)}</Marker>"
            f"<MaxKeys>{max_keys}</MaxKeys><Delimiter>/</Delimiter>"
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
        ]
        if truncated:
            out.append(f"<NextMarker>{escape(page[-1])}</NextMarker>")
        for k in page:
            if entries[k]:
                continue
            body = self.files.get(k) or b""
            out.append(
                f"<Contents><Key>{escape(k)}</Key>"
                f"<LastModified>2024-08-04T05:00:00.000Z</LastModified>"
                f'<ETag>"{hashlib.md5(body).hexdigest()}"</ETag><Size>{len(body)}</Size>'
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        out += [
            f"<CommonPrefixes><Prefix>{escape(k)}</Prefix></CommonPrefixes>"
            for k in page
            if entries[k]
        ]
        out.append("</ListBucketResult>")
        return web.Response(text="".join(out), content_type="application/xml")


def _range_start(header: str) -> int | None:
    """The start of ``bytes=N-`` (None for any other form: the whole file is sent)."""
    unit, _, spec = header.partition("=")
    first, _, last = spec.partition("-")
    if unit.strip() != "bytes" or not first.strip().isdigit() or last.strip():
        return None
    return int(first)


def _not_found(path: str) -> web.Response:
    """S3's 404 (as data.binance.vision answers a file not published)."""
    return web.Response(
        status=404,
        text=f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code>"
        f"<Message>The specified key does not exist.</Message><Key>{escape(path)}</Key></Error>",
        content_type="application/xml",
    )
