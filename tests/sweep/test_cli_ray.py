"""``backtrader-channels sweep --ray``: a strategy file's classes reach the Ray workers."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

from backtrader_channels.app.cli import main

from . import strategies


def _strategy(tmp_path):
    """The sweep tests' ``Every`` as a file of the user's, outside any installed package (only
    that class: whole strategies travel by class name, so no other test class is copied)."""
    path = tmp_path / "every.py"
    path.write_text("import backtrader as bt\n\n\n" + inspect.getsource(strategies.Every))
    return f"{path}:Every"


def test_sweep_on_the_cluster_equals_local_processes(ray_cluster, sample, tmp_path, capsys):
    base = ["sweep", _strategy(tmp_path), "--data", sample.trades, "--param", "every=100,200,400"]
    assert main([*base, "--ray", ray_cluster, "--json", str(tmp_path / "ray.json")]) == 0
    assert main([*base, "--jobs", "2", "--json", str(tmp_path / "local.json")]) == 0
    capsys.readouterr()
    ray_runs = json.loads((tmp_path / "ray.json").read_text())["runs"]
    local_runs = json.loads((tmp_path / "local.json").read_text())["runs"]
    assert ray_runs == local_runs
    assert sorted(r["orders"] for r in ray_runs) == [24, 48, 97]


def test_sweep_ray_local_starts_and_stops_its_own_instance(sample, tmp_path):
    """A process of its own: this one may already be connected to the test cluster."""
    cmd = [sys.executable, "-m", "backtrader_channels", "sweep", _strategy(tmp_path)]
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    done = subprocess.run(
        [*cmd, "--data", sample.trades, "--param", "every=100,200", "--ray", "local"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ranked by pnl" in done.stdout
    assert done.stdout.count("\n") == 4  # header, two runs, "ranked by"


LISTENERS = """
import json, subprocess, sys
from backtrader_channels.parallel import run_all
from backtrader_channels.parallel.ray_engine import RayEngine

def ports():
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    return {line.split()[3] for line in out.splitlines() if line.strip()}

before = ports()
engine = RayEngine(jobs=2)
opened = sorted(ports() - before)
results, failures = run_all(engine, pow, 2, [1, 2, 3])
engine.close()
print(json.dumps({"opened": opened, "results": results, "after": sorted(ports() - before)}))
"""


def test_a_local_instance_listens_on_loopback_only_and_stops():
    """The engine's own local instance (no address): even with ray imported first."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    done = subprocess.run(
        [sys.executable, "-c", "import ray\n" + LISTENERS],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["results"] == [2, 4, 8]
    assert report["opened"], "a local Ray instance listens on some port"
    loopback = ("127.0.0.1:", "[::1]:", "[::ffff:127.0.0.1]:")
    assert [a for a in report["opened"] if not a.startswith(loopback)] == []
    assert report["after"] == []  # close() stopped it
