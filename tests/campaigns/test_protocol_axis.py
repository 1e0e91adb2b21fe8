"""The bench's protocol axis for real: each scenario over HTTP/1.1 and TLS, each server compared
with the baseline server over the same protocol, and the in-process cell that has no socket
skipped with its reason, in the store, the verdicts and the report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loadgen.analysis.compare import compare
from loadgen.campaigns.benchfile import load_bench
from loadgen.errors import LoadgenError
from loadgen.present.cells import cells_markdown
from loadgen.present.report import build_report
from loadgen.results.figures import HttpResult
from loadgen.results.store import RunStore
from tests.conftest import run_bench_file

AXIS = """
rounds = 2
protocol = ["http1", "https"]
baseline = { target = "raw", server = "uvicorn" }
[load]
rate = 200
connections = 4
duration = "0.5s"
warmup = "0.2s"
[[target]]
name = "raw"
[[server]]
name = "uvicorn"
[[server]]
name = "granian"
[[server]]
name = "inproc"
[[scenario]]
name = "json"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunStore:
    return run_bench_file(tmp_path_factory.mktemp("axis"), AXIS)[0]


def test_each_scenario_runs_over_each_protocol(run: RunStore) -> None:
    trials = run.trials()
    measured = {t.cell.name for t in trials if t.status == "ok"}
    assert measured == {"raw/uvicorn/json", "raw/granian/json", "raw/inproc/json",
                        "raw/uvicorn/json@https", "raw/granian/json@https"}
    for trial in trials:
        if trial.status == "ok" and trial.cell.server != "inproc":
            assert isinstance(trial.result, HttpResult)
            secure = trial.cell.protocol == "https"
            assert trial.cell.scenario == ("json@https" if secure else "json")
            assert (trial.result.tls_handshake_us is not None) == secure
            assert ("https://127.0.0.1:" in trial.result.target) == secure


def test_a_cell_its_server_cannot_serve_is_skipped_with_the_reason(run: RunStore) -> None:
    (skipped,) = [t for t in run.trials() if t.status == "skipped"]
    assert skipped.cell.name == "raw/inproc/json@https" and skipped.result is None
    assert skipped.error == "inproc does not serve https"
    page = build_report(run.path).read_text()
    assert "raw/inproc/json@https</td><td>1</td><td>skipped</td><td>inproc does not serve " \
           "https" in page


def test_servers_are_compared_over_the_same_protocol(run: RunStore) -> None:
    comparisons, left_out = compare(run.trials(), ("raw", "uvicorn"))
    assert "raw/inproc/json@https" not in left_out  # skipped, not measured and left out
    against = {(c.cell, c.baseline) for c in comparisons}
    assert ("raw/granian/json@https", "raw/uvicorn/json@https") in against
    assert ("raw/granian/json", "raw/uvicorn/json") in against
    assert not any(c.cell.endswith("@https") != c.baseline.endswith("@https")
                   for c in comparisons)


def test_a_protocol_not_known_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bench.toml").write_text(AXIS.replace('"https"]', '"h3"]'))
    with pytest.raises(LoadgenError, match=r"protocol takes distinct ones of http1, https, "
                                           r"uds, h2, h2c, not \('http1', 'h3'\)"):
        load_bench(tmp_path / "bench.toml")


def test_the_cells_table_has_a_column_per_protocol(run: RunStore) -> None:
    table = cells_markdown(run.trials()).splitlines()
    assert table[2] == "| target/server | json | json@https |"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table[4:]}
    assert set(rows) == {"raw/uvicorn", "raw/granian"}  # in process has no server CPU
    # Each figure is the median of the cell's usable trials, as many as it says.
    for row, line in rows.items():
        server = row.split("/")[1]
        counts = [int(c) for c in re.findall(r"\((\d+)\)", line)]
        assert counts == [sum(t.usable and t.cell.server == server and t.cell.scenario == s
                              for t in run.trials()) for s in ("json", "json@https")]
    assert "Per cell: server CPU" in (run.path / "summary.md").read_text()
