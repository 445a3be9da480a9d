"""Running a download: every archive file in parallel (``jobs`` threads), each fetched, checked,
stored or converted, a month replaced by its days when it is not published, a missing file
reported by name while the rest goes on, and the summary of it all."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from ..errors import BacktraderChannelsError
from ..sources import storage
from .fetch import DownloadError, Manifest, NotFound, Progress, fetch_file, get_text, sha256_of
from .plan import Item
from .remote import RemoteDest
from .store import STAGING, convert_item, raw_path, staging_path

#: a check of a fetched file: None when it is fine, else what is wrong with it
Check = Callable[[Item, str, str | None], str | None]


@dataclass
class DownloadSummary:
    """What a download did.

    Attributes
    ----------
    fetched : list of str
        The archive files fetched (their names).
    skipped : list of str
        Those already there from an earlier run (not fetched again).
    missing : list of str
        One line per file the archive does not have (404), naming it and its URL.
    failed : list of str
        One line per file that could not be fetched or did not check out.
    bytes : int
        Bytes received.
    rows : int
        Rows converted into the partitioned layout.
    refetched : int
        Files fetched again after a failed check.
    resumed : int
        Files resumed from a partial download.
    """

    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bytes: int = 0
    rows: int = 0
    refetched: int = 0
    resumed: int = 0

    def lines(self) -> list[str]:
        """The summary as lines for a person."""
        out = [
            f"fetched {len(self.fetched)} file(s), {self.bytes:,} bytes"
            + (
                f" ({self.resumed} resumed, {self.refetched} fetched again)"
                if self.resumed or self.refetched
                else ""
            ),
            f"already there (not fetched again): {len(self.skipped)}",
            f"missing from the archive: {len(self.missing)}",
            f"rows converted: {self.rows:,}",
        ]
        if not self.fetched and self.skipped and not self.failed:
            out.append("nothing to fetch: every file is already there")
        if self.failed:
            out.append(f"failed: {len(self.failed)}")
        return out


class Downloader:
    """Runs :class:`Item` s into ``dest``.

    Parameters
    ----------
    dest : str
        The destination folder (the partitioned layout, ``raw/``, ``manifest.json``).
    check : callable
        ``check(item, path, expected_sha256)``: None when the fetched file is good, else why
        not.
    jobs : int
        Files fetched at once.
    progress : bool or None
        A progress bar on stderr; None: when stderr is a terminal.
    retries, backoff : int, float
        Retries of a network error, and the first wait (doubled each time).
    echo : callable
        Where the lines for a person go (missing files, refetches): ``print`` by default.
    """

    def __init__(
        self,
        dest: str,
        check: Check,
        jobs: int = 4,
        progress: bool | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        echo: Callable[[str], None] = print,
    ) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be 1 or more, not {jobs}")
        #: a destination in object storage: the run works in a local folder and copies up
        self.remote = RemoteDest(dest) if storage.is_uri(dest) else None
        if self.remote is not None:
            dest = self.remote.local
        self.dest, self.check, self.jobs = dest, check, jobs
        self.retries, self.backoff = retries, backoff
        self.progress = Progress(sys.stderr.isatty() if progress is None else progress)
        self.echo = echo
        self.summary = DownloadSummary()
        self._lock = threading.Lock()
        os.makedirs(os.path.join(dest, STAGING), exist_ok=True)
        self.manifest = Manifest(dest)

    def run(self, items: list[Item]) -> DownloadSummary:
        """Fetch every item (and the days of months not published); the summary."""
        try:
            with ThreadPoolExecutor(self.jobs, thread_name_prefix="download") as pool:
                running: dict[Future[list[Item]], Item] = {
                    pool.submit(self._one, it): it for it in items
                }
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        item = running.pop(fut)
                        try:
                            more = fut.result()
                        except (BacktraderChannelsError, OSError) as exc:
                            self._say(f"failed: {item.name}: {exc}", self.summary.failed)
                            continue
                        running.update({pool.submit(self._one, it): it for it in more})
        finally:
            self.progress.close()
            self.summary.bytes = self.progress.bytes
            for names in (self.summary.fetched, self.summary.skipped, self.summary.missing):
                names.sort()  # files finish in any order; the summary lists them in order
            _prune(os.path.join(self.dest, STAGING))
        return self.summary

    def _say(self, line: str, into: list[str] | None = None) -> None:
        with self._lock:
            if into is not None:
                into.append(line)
            self.echo(line)

    def _key(self, item: Item) -> str:
        return f"raw:{item.rel}" if item.root is None else f"native:{item.root}:{item.rel}"

    def _absent(self, item: Item) -> list[Item]:
        """A 404: a month's days instead, or a line naming the missing file."""
        if item.fallback:
            self._say(f"{item.what}: the monthly file is not published ({item.url}): its days")
            return item.fallback
        self._say(
            f"missing: {item.what}: not in the archive (404): {item.url}", self.summary.missing
        )
        return []

    def _one(self, item: Item) -> list[Item]:
        """Fetch, check and store one file; the items to fetch instead (a month's days)."""
        key = self._key(item)
        if self.manifest.get(key) is not None:
            with self._lock:
                self.summary.skipped.append(item.name)
            return []
        expected: str | None = None
        checksum = ""
        if item.checksum_url:
            try:
                checksum = get_text(item.checksum_url, self.retries, self.backoff)
            except NotFound:
                return self._absent(item)
            expected = parse_checksum(checksum, item)
        path = raw_path(self.dest, item) if item.root is None else staging_path(self.dest, item)
        try:
            self._fetch_checked(item, path, expected)
        except NotFound:
            return self._absent(item)
        record: dict[str, object] = {
            "url": item.url,
            "size": os.path.getsize(path),
            "sha256": sha256_of(path),
            "kind": item.kind,
            "symbol": item.symbol,
            "period": item.period.label,
        }
        if item.root is None:
            if checksum:
                with open(path + ".CHECKSUM", "w", encoding="utf-8") as fh:
                    fh.write(checksum)
            record["path"] = os.path.relpath(path, self.dest)
        else:
            rows, parts = convert_item(item, path, self.dest)
            record.update(rows=rows, parts=parts)
            os.remove(path)
            with self._lock:
                self.summary.rows += rows
        if self.remote is not None:  # the files up first, then the manifest that lists them
            self.remote.push(_files_of(record, checksum))
        self.manifest.put(key, record)
        if self.remote is not None:
            with self._lock:
                self.remote.push_manifest()
        with self._lock:
            self.summary.fetched.append(item.name)
        return []

    #: request headers every file is fetched with (an API key's: :mod:`.tardis`)
    headers: dict[str, str] | None = None

    def _fetch(self, item: Item, path: str) -> bool:
        """Fetch ``item`` into ``path``; whether a partial file was resumed."""
        return fetch_file(item.url, path, self.progress, self.retries, self.backoff, self.headers)

    def _fetch_checked(self, item: Item, path: str, expected: str | None) -> None:
        """Fetch ``item`` into ``path`` (a file finished by an earlier run and not converted
        yet is kept if it checks out); a failed check fetches it once more, then is an error
        naming the file."""
        for attempt in (1, 2):
            if not (attempt == 1 and os.path.exists(path)) and self._fetch(item, path):
                with self._lock:
                    self.summary.resumed += 1
            problem = self.check(item, path, expected)
            if problem is None:
                return
            os.remove(path)
            if attempt == 2:
                raise DownloadError(f"{problem}; fetched twice ({item.url})")
            self._say(f"{item.name}: {problem}; fetching it again")
            with self._lock:
                self.summary.refetched += 1


def _files_of(record: dict[str, object], checksum: str) -> list[str]:
    """The files one manifest record wrote (relative to the destination)."""
    parts = record.get("parts")
    if isinstance(parts, list):
        return [str(p) for p in parts]
    path = str(record["path"])
    return [path, path + ".CHECKSUM"] if checksum else [path]


def _prune(folder: str) -> None:
    """Remove the empty folders under ``folder``, and it if empty (what staging leaves once
    files are converted; a ``.part`` keeps its folder)."""
    for here, _, _ in os.walk(folder, topdown=False):
        try:
            os.rmdir(here)  # only an empty folder goes
        except OSError:
            pass


def parse_checksum(text: str, item: Item) -> str:
    """The sha256 of a ``.CHECKSUM`` file's ``<sha256>  <file name>`` line."""
    fields = text.split()
    if not fields or len(fields[0]) != 64:
        raise DownloadError(f"{item.name}: unreadable checksum file {item.checksum_url}")
    return fields[0].lower()


def sha256_check(item: Item, path: str, expected: str | None) -> str | None:
    """A published sha256 checked: None when it matches (or none was published)."""
    if expected is None:
        return None
    got = sha256_of(path)
    if got != expected:
        return f"{item.name}: checksum mismatch (sha256 {got}, its .CHECKSUM says {expected})"
    return None
