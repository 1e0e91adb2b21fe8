"""The stored result model against its reference files (tests/data/): each file loadgen writes,
read and written again, is the file; version 1 files still read; any other version, or a file
that does not fit its record, is one clear line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loadgen.errors import LoadgenError
from loadgen.results.codec import Record
from loadgen.results.figures import CountedResult, HttpResult, TimedResult, read_result_file
from loadgen.results.history import (
    Accepted,
    Confirmed,
    Point,
    accepted_commits,
    confirmed,
    known_points,
)
from loadgen.results.metrics import METRICS, metric
from loadgen.results.store import read_trial
from loadgen.results.versions import SCHEMA_VERSION, json_text, read_list
from tests.conftest import DATA_DIR

DATA = DATA_DIR

TRIALS = ["trial-v2.json", "trial-v2-failed.json", "trial-v2-callgrind.json",
          "trial-v2-inproc.json"]


@pytest.mark.parametrize("name", TRIALS)
def test_a_trial_file_reads_and_writes_as_it_was(name: str) -> None:
    path = DATA / name
    assert json_text(read_trial(path).to_json()) == path.read_text()


@pytest.mark.parametrize(("name", "indent"), [("run-v2.json", 2), ("inproc-v2.json", 1)])
def test_a_result_file_reads_and_writes_as_it_was(name: str, indent: int) -> None:
    path = DATA / name
    assert json_text(read_result_file(path).to_json(), indent) == path.read_text()


@pytest.mark.parametrize(("name", "kind"), [("points", Point), ("confirmed", Confirmed),
                                             ("accepted", Accepted)])
def test_a_list_file_reads_and_writes_as_it_was(name: str, kind: type[Record]) -> None:
    path = DATA / f"{name}-v2.json"
    items = read_list(path, name, kind)
    assert items and json_text({name: [i.to_json() for i in items]}) == path.read_text()
    assert read_list(DATA / f"{name}-v1.json", name, kind) == items  # the bare list of v1


def test_every_written_format_carries_the_version() -> None:
    for path in DATA.glob("*-v2*.json"):
        assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION == 2


def test_what_a_trial_of_each_kind_holds() -> None:
    http, failed, counted, timed = (read_trial(DATA / name) for name in TRIALS)
    assert isinstance(http.result, HttpResult) and http.usable
    # A paired half: loaded in turns, beside the baseline.
    assert http.pair == http.cell.name and http.result.profile.turns.count == 2
    assert failed.result is None and failed.error and not failed.usable
    assert isinstance(counted.result, CountedResult)
    assert isinstance(timed.result, TimedResult)
    # Each metric reads the figures its kind of trial has, and only those.
    has = {name: {m.name for m in METRICS if m.value(t.result)}
           for name, t in (("http", http), ("counted", counted), ("timed", timed))
           if t.result is not None}
    # Open loop: its throughput is the schedule's, no metric of the server.
    assert has == {"http": {"p50", "p99", "p999", "cpu_per_request"},
                   "counted": {"instructions"}, "timed": {"inproc_us"}}
    assert metric("instructions", "plaintext").value(counted.result) == \
        counted.result.kinds["plaintext"].instructions_per_request


def test_a_version_1_trial_still_reads(tmp_path: Path) -> None:
    trial = read_trial(DATA / "trial-v1.json")
    assert trial.cell.name == "raw-a/uvicorn/plaintext" and trial.usable
    assert isinstance(trial.result, HttpResult)
    assert trial.result.kinds["plaintext"].requests == trial.result.requests
    # What version 1 did not record takes its field's default.
    assert trial.looks == 1 and trial.hash_seed is None and trial.cell.load is None
    assert trial.result.machine_pauses is None and trial.result.generator.workers == ()
    assert trial.result.series[0].paused_ms is None and not trial.result.profiled
    assert metric("cpu_per_request").value(trial.result) == 141.06
    # Written again, it is a version 2 trial, which reads strictly.
    again = tmp_path / "trial.json"
    again.write_text(json_text(trial.to_json()))
    assert read_trial(again) == trial


def test_version_1_result_and_list_files_still_read(tmp_path: Path) -> None:
    assert isinstance(read_result_file(DATA / "run-v1.json"), HttpResult)
    for name in ("points", "confirmed", "accepted"):  # a history of version 1 files
        (tmp_path / f"{name}.json").write_text((DATA / f"{name}-v1.json").read_text())
    assert [p.key for p in known_points(tmp_path)] == ["0.37.2", "0.38.0"]
    assert confirmed(tmp_path)[("routing", "p99", "0.37.2", "0.38.0")].samples == 199
    assert accepted_commits(tmp_path)[0].label == "4f3cbb6a"


def _rewritten(tmp_path: Path, name: str, change: Callable[[Any], Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(change(json.loads((DATA / name).read_text()))))
    return path


@pytest.mark.parametrize("name", ["trial-v2.json", "run-v2.json", "points-v2.json"])
def test_an_unknown_version_is_one_clear_line(tmp_path: Path, name: str) -> None:
    path = _rewritten(tmp_path, name, lambda d: {**d, "schema_version": 3})
    with pytest.raises(LoadgenError) as caught:
        read_list(path, "points", Point) if name.startswith("points") else \
            read_trial(path) if name.startswith("trial") else read_result_file(path)
    assert str(caught.value) == (f"{path}: schema version 3; this loadgen reads versions "
                                 "1 and 2")


def test_a_version_2_file_that_does_not_fit_is_refused_naming_the_key(tmp_path: Path) -> None:
    def drop(document: dict[str, Any]) -> dict[str, Any]:
        del document["result"]["generator"]["late_sends"]
        return document

    with pytest.raises(LoadgenError, match=r"trial-v2.json: not a trial of schema version 2: "
                                           r"result.generator: no key 'late_sends'"):
        read_trial(_rewritten(tmp_path, "trial-v2.json", drop))
    extra = _rewritten(tmp_path, "trial-v2.json", lambda d: {**d, "colour": "red"})
    with pytest.raises(LoadgenError, match="unknown key 'colour'"):
        read_trial(extra)
    wrong = _rewritten(tmp_path, "trial-v2.json", lambda d: {**d, "round": "first"})
    with pytest.raises(LoadgenError, match="round: 'first' is not a whole number"):
        read_trial(wrong)
