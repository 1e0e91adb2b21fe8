"""A bench that counts a target in process and serves it over the wire: its report shows, per
request kind, the instructions beside each server's latency, from the stored trials."""

from __future__ import annotations

import re

import pytest

from loadgen.present.report import build_report
from loadgen.present.two_ways import two_ways
from loadgen.results.figures import CountedResult, HttpResult
from loadgen.results.store import RunStore
from tests.conftest import APPS_DIR, run_bench_file

BOTH = f"""
rounds = 2
baseline = {{ target = "work", server = "callgrind" }}
[load]
rate = 200
connections = 4
duration = "1s"
warmup = "0.2s"
[[target]]
name = "work"
app_dir = "{APPS_DIR}"
[[server]]
name = "callgrind"
[[server]]
name = "uvicorn"
[[scenario]]
name = "{APPS_DIR / 'router_scenario.py'}"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunStore:
    return run_bench_file(tmp_path_factory.mktemp("two-ways"), BOTH)[0]


def test_each_kind_counted_beside_its_latency_on_each_server(run: RunStore) -> None:
    trials = run.trials()
    (both,) = two_ways(trials)
    counted = [t.result for t in trials if isinstance(t.result, CountedResult)]
    served = [t.result for t in trials if isinstance(t.result, HttpResult)]
    assert len(counted) == len(served) == 2
    assert both.target == "work" and list(both.instructions) == ["/a", "/b", "/c"]
    # The table's count is the median of the rounds' (which agree within REPEATS_WITHIN,
    # tests/inproc/test_measure.py): of two rounds, their mean.
    rounds = [r.kinds["/b"].instructions_per_request for r in counted]
    assert both.instructions["/b"] == pytest.approx(sum(rounds) / 2, rel=1e-12)
    assert set(both.cpu_us) == {"uvicorn"}
    rows = both.rows()
    assert [row[0] for row in rows] == ["/a", "/b", "/c"]
    # Each kind's latencies, merged over both rounds of uvicorn: as many as it answered.
    assert both.latency["/a"]["uvicorn"].get_total_count() == sum(
        r.kinds["/a"].requests for r in served)
    assert all(int(row[2].replace(",", "")) <= int(row[3].replace(",", "")) for row in rows)


def test_the_report_has_the_table(run: RunStore) -> None:
    page = build_report(run.path).read_text()
    section = page[page.index("work: in process and at the socket"):]
    assert re.search(r"<th>request kind</th><th>instructions / request \(in process\)</th>"
                     r"<th>uvicorn p50 \(µs\)</th><th>uvicorn p99 \(µs\)</th>", section)
    assert "Server CPU per request over the mix: uvicorn " in section


def test_no_table_without_both_ways(run: RunStore) -> None:
    served_only = [t for t in run.trials() if isinstance(t.result, HttpResult)]
    assert two_ways(served_only) == []
