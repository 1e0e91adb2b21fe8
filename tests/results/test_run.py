"""The merge and the generator's verdict on itself, from hand-made worker results."""

from __future__ import annotations

import json

import pytest

from loadgen.results import histogram
from loadgen.results.figures import HttpResult
from loadgen.results.measured import KindResult, MissingWorker, WorkerResult
from loadgen.results.run import RunResult
from loadgen.results.versions import SCHEMA_VERSION
from loadgen.workloads.profile import LoadProfile, Share


def encoded(values: list[int]) -> str:
    hist = histogram.new_histogram()
    histogram.record_all(hist, values)
    return histogram.encode(hist)


def worker(index: int, *, requests: int = 1000, sent: int = 1000, intended: int = 1000,
           waited: int = 0, gen_lag_us: int = 100, cpu: float = 0.2, core_wait: float = 0.0,
           late: int = 0, late_in_pause: int = 0, waited_in_pause: int = 0,
           pauses: tuple[tuple[float, float], ...] = (), write_blocked: int = 0,
           errors: dict[str, int] | None = None, status: dict[int, int] | None = None,
           failures: dict[str, int] | None = None) -> WorkerResult:
    kind = KindResult(corrected=encoded([500] * requests), uncorrected=encoded([400] * requests),
                      send_lag=encoded([100] * requests), status=status or {200: requests},
                      errors=errors or {}, checked=10, failures=failures or {})
    return WorkerResult(
        share=Share(index, 2), start_epoch_s=0.0, measured_s=1.0, kinds={"GET /": kind},
        intervals=[], errors=errors or {}, intended=intended, sent=sent, unsent=0,
        waited=waited, reconnects=0, flows=0, generator_lag=encoded([gen_lag_us] * sent),
        cpu_fraction=cpu, interrupted=False, late=late, late_in_pause=late_in_pause,
        waited_in_pause=waited_in_pause, core_wait_fraction=core_wait, pauses=pauses,
        write_blocked=write_blocked)


OPEN = LoadProfile.constant(2000, 1.0, processes=2, connections=4)
CLOSED = LoadProfile(duration_s=1.0)


def test_workers_merge_into_the_run() -> None:
    result = RunResult("t", OPEN, [worker(0), worker(1, requests=500, sent=500)], (1,))
    assert result.requests == 1500
    assert result.total.status == {200: 1500}
    assert result.kinds["GET /"].requests == 1500
    assert result.throughput_rps == 1500


def test_an_open_loop_run_that_kept_up() -> None:
    check = RunResult("t", OPEN, [worker(0), worker(1)], (1,)).check_generator()
    assert not check.bound and check.reasons == ()
    assert check.intended_rps == 2000


def test_late_sends_with_free_connections_are_the_generators_fault() -> None:
    check = RunResult("t", OPEN, [worker(0, late=30), worker(1)], (1,)).check_generator()
    assert check.bound
    assert "it sent 30 of 2,000 requests (1.5%) over 5 ms late" in check.reasons[0]


def test_a_few_late_sends_are_no_verdict() -> None:
    """The p99 of 50 sends is the slowest one: a share of late sends counts only from LATE_MIN
    of them, and only above LATE_SHARE of all."""
    few = [worker(k, requests=25, sent=25, intended=25, late=9) for k in range(2)]
    assert not RunResult("t", OPEN, few, (1,)).check_generator().bound
    rare = [worker(k, requests=10_000, sent=10_000, intended=10_000, late=45) for k in range(2)]
    assert not RunResult("t", OPEN, rare, (1,)).check_generator().bound
    # The old rule: one send of 9 ms among a few dozen made the "p99" and the verdict.
    lone = [worker(0, requests=50, sent=50, intended=50, gen_lag_us=9000)]
    assert not RunResult("t", OPEN, lone, (1,)).check_generator().bound


def test_sends_late_by_a_pause_are_the_pauses() -> None:
    paused = worker(0, late_in_pause=300, waited_in_pause=200, waited=200,
                    pauses=((1.2, 0.3),))
    result = RunResult("t", OPEN, [paused, worker(1, pauses=((1.25, 0.3),))], (1,))
    check = result.check_generator()
    assert not check.bound
    assert check.pauses == ((1.2, pytest.approx(0.35)),), "the workers' pauses merge into one"
    assert check.causes == ["machine pause"], "a pause's backlog is no pushback"
    assert result.to_json()["machine_pauses"]["late_sends"] == 300


def test_a_shared_core_is_the_generators_environment_failing_it() -> None:
    check = RunResult("t", OPEN, [worker(0, cpu=0.5, core_wait=0.47)], (1,)).check_generator()
    assert check.bound
    assert "47% waiting for it behind other processes" in check.reasons[0]


def test_a_server_that_pushes_back() -> None:
    busy = RunResult("t", OPEN, [worker(k, waited=200) for k in range(2)], (1,))
    assert busy.check_generator().causes == ["server pushback"]
    full = RunResult("t", OPEN, [worker(0, write_blocked=3)], (1,))
    assert full.check_generator().causes == ["server pushback"]
    assert full.to_json()["server_pushback"]["writes_blocked"] == 3


def test_a_shortfall_without_waiting_is_the_generators_fault() -> None:
    result = RunResult("t", OPEN, [worker(0, sent=900), worker(1, sent=900)], (1,))
    check = result.check_generator()
    assert check.bound and "90% of the scheduled requests" in check.reasons[0]


def test_a_shortfall_from_busy_connections_is_the_servers() -> None:
    workers = [worker(k, sent=900, waited=400) for k in range(2)]
    assert not RunResult("t", OPEN, workers, (1,)).check_generator().bound


def test_a_generator_at_full_cpu_is_the_limit() -> None:
    closed = RunResult("t", CLOSED, [worker(0, cpu=0.99)], (1,)).check_generator()
    assert closed.bound and "throughput may be the generator's limit" in closed.reasons[0]
    assert not RunResult("t", CLOSED, [worker(0, cpu=0.5)], (1,)).check_generator().bound
    opened = RunResult("t", OPEN, [worker(0, cpu=0.97), worker(1)], (1,)).check_generator()
    assert opened.bound and "latency and queueing are partly" in opened.reasons[0]


def test_a_missing_worker_makes_the_run_partial() -> None:
    result = RunResult("t", OPEN, [worker(0)], (1,), missing=[MissingWorker(1, -9)])
    assert result.partial
    assert result.to_json()["missing_workers"] == [
        {"index": 1, "exitcode": -9, "where": "", "reason": ""}]


def test_each_workers_own_figures_are_in_the_json() -> None:
    result = RunResult("t", OPEN, [worker(0, cpu=0.5), worker(1, requests=500, sent=500)],
                       (1,))
    figures = result.to_json()["generator"]["workers"]
    assert [(w["index"], w["requests"], w["throughput_rps"], w["send_lag_p99_us"],
             w["cpu_fraction"]) for w in figures] == [(0, 1000, 1000.0, 100, 0.5),
                                                       (1, 500, 500.0, 100, 0.2)]


def test_validity_reasons() -> None:
    assert RunResult("t", OPEN, [worker(0), worker(1)], (1,)).valid
    wrong = RunResult("t", OPEN, [worker(0, status={200: 990, 500: 10}),
                                  worker(1, failures={"body lacks b'x'": 2},
                                         errors={"timeout": 3})], (1,))
    assert wrong.invalid_reasons() == [
        "GET /: status 10 x 500, expected 200",
        "GET /: 2 of 20 checked responses wrong, e.g. 2 with body lacks b'x'",
        "failed requests: timeout 3",
    ]
    accepted = RunResult("t", OPEN, [worker(0, status={200: 500, 400: 500})], (1,),
                         expected_status={"GET /": (200, 400)})
    assert accepted.valid


def test_the_stored_result_reads_back_as_it_was_written() -> None:
    result = RunResult("t", OPEN, [worker(0, pauses=((0.2, 0.1),)), worker(1)], (1,),
                       missing=[MissingWorker(2, -9)])
    document = json.loads(result.json_text())  # `run --json`
    assert document.pop("schema_version") == SCHEMA_VERSION
    assert HttpResult.from_json(document).to_json() == document == result.to_json()
