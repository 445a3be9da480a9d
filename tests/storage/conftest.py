"""An S3-compatible server for the object-storage tests: moto's, started in its own process on
127.0.0.1 for this package's tests and stopped after (``pip install "moto[server]"``, in the
test extra). The tests skip, saying why, only when it cannot start."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

KEY = SECRET = "testing"  # moto accepts any keys
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running moto server."""

    host: str
    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def requests(self) -> list[str]:
        """The request lines the server logged so far (``GET /bucket/key HTTP/1.1``)."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))
        return [
            ln.split('"')[1] for ln in text.splitlines() if ln.count('"') >= 2 and " HTTP/" in ln
        ]

    def uri(self, bucket: str, path: str = "") -> str:
        """A URI that names the server and the keys itself (for processes that do not have
        this one's environment, such as Ray workers)."""
        key = f"{bucket}/{path}".rstrip("/")
        return f"s3://{KEY}:{SECRET}@{key}?endpoint_override={self.host}:{self.port}&scheme=http"

    def make_bucket(self) -> str:
        """A new, empty bucket; its name."""
        import pyarrow.fs as pafs

        name = f"btch-{uuid.uuid4().hex[:12]}"
        fs = pafs.S3FileSystem(
            access_key=KEY,
            secret_key=SECRET,
            region=REGION,
            endpoint_override=f"{self.host}:{self.port}",
            scheme="http",
            allow_bucket_creation=True,
        )
        fs.create_dir(name)
        return name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> str | None:
    """None once the server accepts connections; else why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"it exited with code {proc.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return None
        time.sleep(0.1)
    return f"it did not listen on 127.0.0.1:{port} within {timeout:.0f} s"


@pytest.fixture(scope="package")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server in a subprocess on 127.0.0.1, stopped after this package's tests."""
    try:
        import moto.server  # noqa: F401 - only whether it is installed
    except ImportError as exc:
        pytest.skip(
            f'no S3 server: moto[server] is not installed (pip install "moto[server]"): {exc}'
        )
    log = tmp_path_factory.mktemp("moto") / "server.log"
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        why = _wait_listening(proc, port, timeout=60.0)
        if why is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.skip(f"the S3 server (moto) could not start: {why}\n{tail}")
        yield S3Server("127.0.0.1", port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The standard AWS environment pointing at the server (keys, region, endpoint), the
    instance metadata service off (nothing is asked beyond 127.0.0.1)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):  # no profile of the user's
        monkeypatch.setenv(name, os.devnull)
    return s3_server


@pytest.fixture
def bucket(s3_env: S3Server) -> str:
    """``s3://NAME``: a new bucket on the server, reached through the environment."""
    return f"s3://{s3_env.make_bucket()}"


@dataclass
class GcsServer:
    """A running GCS emulator."""

    host: str
    port: int

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def make_bucket(self) -> str:
        """A new, empty bucket; its name."""
        import pyarrow.fs as pafs

        name = f"btch-{uuid.uuid4().hex[:12]}"
        fs = pafs.GcsFileSystem(
            anonymous=True,
            endpoint_override=f"{self.host}:{self.port}",
            scheme="http",
            project_id="test",
        )
        fs.create_dir(name)
        return name


def _start(
    cmd: list[str], log: Path, port: int, what: str
) -> tuple[subprocess.Popen[bytes], str | None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    why = _wait_listening(proc, port, timeout=60.0)
    if why is not None:
        why = f"the {what} could not start: {why}\n{log.read_text(errors='replace')[-2000:]}"
    return proc, why


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


@pytest.fixture(scope="package")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsServer]:
    """gcp-storage-emulator in a subprocess on 127.0.0.1, in memory, stopped after this
    package's tests."""
    try:
        import gcp_storage_emulator  # noqa: F401 - only whether it is installed
    except ImportError as exc:
        pytest.skip(f"no GCS emulator: gcp-storage-emulator is not installed: {exc}")
    port = _free_port()
    log = tmp_path_factory.mktemp("gcs") / "server.log"
    cmd = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host=127.0.0.1"]
    proc, why = _start([*cmd, f"--port={port}", "--in-memory"], log, port, "GCS emulator")
    try:
        if why is not None:
            pytest.skip(why)
        yield GcsServer("127.0.0.1", port)
    finally:
        _stop(proc)


def _fake_service_account(path: Path) -> None:
    """A service account key file with a new RSA key: Google's client signs its own tokens
    with it (no token server is asked), and the emulator takes any token."""
    import json

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account = {
        "type": "service_account",
        "project_id": "test",
        "private_key_id": "test",
        "private_key": pem,
        "client_email": "test@test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "http://127.0.0.1:9/token",  # never asked; loopback if it were
    }
    path.write_text(json.dumps(account))


@pytest.fixture
def gcs_bucket(gcs_server: GcsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``gs://NAME``: a new bucket on the emulator, reached through the environment (Google's
    ``CLOUD_STORAGE_EMULATOR_ENDPOINT`` and ``GOOGLE_APPLICATION_CREDENTIALS``; the metadata
    server pointed at loopback, so that nothing is asked beyond 127.0.0.1)."""
    key = tmp_path / "service-account.json"
    _fake_service_account(key)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    monkeypatch.setenv("CLOUD_STORAGE_EMULATOR_ENDPOINT", gcs_server.endpoint)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_ROOT", "127.0.0.1:9")
    return f"gs://{gcs_server.make_bucket()}"
