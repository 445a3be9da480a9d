"""A Ray cluster on 127.0.0.1 (a head and a worker node) for the sweep tests that need one."""

from __future__ import annotations

import subprocess
import time

import pytest

LOOPBACK = ("127.0.0.1:", "[::1]:", "[::ffff:127.0.0.1]:")


def listening() -> set[str]:
    """The local addresses of every listening TCP socket on this machine."""
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    return {line.split()[3] for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="package")
def ray_cluster():
    """Start a head and a worker node on 127.0.0.1, connect, yield the address, stop both.
    Fails if Ray listens anywhere but on loopback."""
    ray = pytest.importorskip("ray")  # the test extra installs it: a skip shows in the summary
    from ray.cluster_utils import Cluster

    before = listening()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        ray.init(address=cluster.address, log_to_driver=False)
        opened = listening() - before
        beyond = sorted(a for a in opened if not a.startswith(LOOPBACK))
        assert not beyond, f"Ray listens beyond loopback: {beyond}"
        assert len(ray.nodes()) == 2
        yield cluster.address
    finally:
        ray.shutdown()
        cluster.shutdown()
    # its processes exit after shutdown returns (seconds later on a loaded machine)
    deadline = time.monotonic() + 30
    while (left := sorted(listening() - before)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"Ray still listens 30 s after shutdown: {left}"
