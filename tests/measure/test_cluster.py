"""The load from a Dask cluster: a LocalCluster of two worker processes against a real uvicorn;
the merged result is exactly the workers' results merged, the open-loop rate holds across them,
a worker killed mid-run leaves a partial result that says so, and Ctrl-C keeps what was
measured."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram

from loadgen.errors import LoadgenError
from loadgen.measure.runner import Placement, run_load
from loadgen.results import histogram
from loadgen.servers.launchers import ServerProcess
from loadgen.workloads.profile import LoadProfile, Stage
from loadgen.workloads.request import get_template
from tests.conftest import CLOSED_PORT, LOADGEN, SERVER_CORES, loadgen, wait_for_load

distributed = pytest.importorskip("distributed")

RATE = 1000.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local:
        yield local.scheduler_address


def profile(duration_s: float = 2.0) -> LoadProfile:
    return LoadProfile(connections=8, stages=(Stage(duration_s, RATE),), duration_s=duration_s,
                       warmup_s=0.5, processes=2)


def test_the_merge_is_the_workers_results_merged(cluster: str,
                                                 raw_server: ServerProcess) -> None:
    endpoint = raw_server.endpoint
    result = run_load(endpoint, (get_template(endpoint, "/plaintext"),), profile(),
                      Placement((), SERVER_CORES, cluster))
    assert not result.partial and len(result.workers) == 2
    assert {w.where for w in result.workers} == set(_workers(cluster))
    counts = [sum(int(HdrHistogram.decode(k.corrected).get_total_count())
                  for k in w.kinds.values()) for w in result.workers]
    assert result.requests == sum(counts) and all(counts)
    merged = histogram.merge(k.corrected for w in result.workers for k in w.kinds.values())
    assert histogram.encode(merged) == histogram.encode(result.total.corrected)
    assert sum(w.intended for w in result.workers) == RATE * 2, "the schedule, split exactly"
    assert sum(w.sent + w.unsent for w in result.workers) == RATE * 2
    generator = result.to_json()["generator"]
    assert sorted(w["requests"] for w in generator["workers"]) == sorted(counts)
    assert generator["cpus"] == [] and all(w["cpus"] for w in generator["workers"])


def test_a_worker_killed_mid_run_leaves_a_partial_result(raw_server: ServerProcess) -> None:
    # A cluster of its own: the nanny restarts the killed worker under another address.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local, \
            distributed.Client(local) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids)[1]
        def kill_when_loading() -> None:
            wait_for_load(raw_server)
            time.sleep(2.0)  # into the 3 s start lead, the warm-up or the window: all mid-run
            os.kill(pids[victim], signal.SIGKILL)

        killer = threading.Thread(target=kill_when_loading)
        killer.start()
        endpoint = raw_server.endpoint
        result = run_load(endpoint, (get_template(endpoint, "/plaintext"),), profile(3.0),
                          Placement((), SERVER_CORES, local.scheduler_address))
        killer.join()
    assert result.partial
    assert [(m.where, m.reason) for m in result.missing] == [(victim, "the worker left the "
                                                                      "cluster")]
    assert [w.where for w in result.workers] == [sorted(pids)[0]]
    assert result.to_json()["missing_workers"][0]["where"] == victim


def test_an_unreachable_scheduler_is_one_line_and_exit_2(raw_server: ServerProcess) -> None:
    done = loadgen("run", f"http://{raw_server.endpoint.authority}/plaintext", "--rate", "100",
                   "-d", "1s", "--processes", "2", "--cluster", "tcp://127.0.0.1:9")
    assert done.returncode == 2
    assert done.stderr.startswith("loadgen: error: cannot reach the Dask scheduler at "
                                  "tcp://127.0.0.1:9"), done.stderr
    assert "Traceback" not in done.stderr


def _workers(address: str) -> list[str]:
    with distributed.Client(address) as client:
        return sorted(client.scheduler_info()["workers"])


def test_a_cluster_without_dask_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from loadgen.measure import cluster as module

    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    with pytest.raises(LoadgenError, match=r"pip install 'loadgen\[cluster\]'"):
        module.run_on_cluster("tcp://127.0.0.1:9", [])


def test_ctrl_c_ends_every_worker_early_and_keeps_what_they_measured(
        cluster: str, raw_server: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    proc = subprocess.Popen([*LOADGEN, "run", f"http://{raw_server.endpoint.authority}/plaintext",
                             "--rate", "300", "-d", "60s", "--warmup", "0.5s", "--processes",
                             "2", "--cluster", cluster, "--json", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_load(raw_server)
    time.sleep(5.0)  # the 3 s start lead, the warm-up of 0.5 s and some measured time
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "INTERRUPTED" in stdout and "PARTIAL" not in stdout
    assert "2 worker(s) on a Dask cluster" in stdout
    assert stdout.count(" on tcp://127.0.0.1:") == 2  # each worker's own line
    result = json.loads(out.read_text())
    assert result["interrupted"] is True and result["partial"] is False
    assert len(result["generator"]["workers"]) == 2
    assert 0 < result["requests"] < 300 * 60


def test_a_server_the_workers_cannot_reach_is_one_line(cluster: str) -> None:
    done = loadgen("run", CLOSED_PORT, "--rate", "100", "-d", "1s", "--processes", "2",
                   "--cluster", cluster)
    assert done.returncode == 2
    assert done.stderr.startswith("loadgen: error: cannot connect to 127.0.0.1"), done.stderr
    assert "from the Dask worker tcp://127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr
