"""A stored run's verdicts as `loadgen compare` asks for them, and the one choice of the
baseline its cells are compared with (the report makes the same)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from loadgen.analysis.compare import exit_code
from loadgen.errors import LoadgenError
from loadgen.present.verdicts import CompareOptions, compare_stored, run_baseline
from loadgen.results.model import Trial
from loadgen.results.store import read_trial
from tests.conftest import DATA_DIR

DATA = DATA_DIR


def trial(target: str) -> Trial:
    one = read_trial(DATA / "trial-v2.json")  # of a run whose baseline is raw/uvicorn
    return replace(one, cell=replace(one.cell, target=target))


def test_the_baseline_is_the_run_s_unless_another_of_its_own_is_asked_for() -> None:
    trials = [trial("raw"), trial("raw-b")]
    assert run_baseline(trials) == ("raw", "uvicorn")
    assert run_baseline(trials, "raw-b/uvicorn") == ("raw-b", "uvicorn")


@pytest.mark.parametrize(("asked", "message"), [
    ("raw", "--baseline takes TARGET/SERVER, e.g. starlette/uvicorn"),
    ("raw/granian", "--baseline raw/granian: no such target/server in RUN; it has raw-b/uvicorn, "
                    "raw/uvicorn"),
])
def test_a_baseline_the_run_does_not_have_is_one_line(asked: str, message: str) -> None:
    with pytest.raises(LoadgenError) as caught:
        run_baseline([trial("raw"), trial("raw-b")], asked, "RUN")
    assert str(caught.value) == message


def test_a_trial_file_that_cannot_be_read_is_said_and_left_out(tmp_path: Path) -> None:
    shutil.copy(DATA / "trial-v2.json", tmp_path / "trial-r00-p00-raw-b.json")
    (tmp_path / "trial-r00-p01-cut-short.json").write_text('{"schema_version"')
    warned: list[str] = []
    compare_stored(CompareOptions(run_dir=tmp_path), warned.append)
    assert len(warned) == 1 and warned[0].startswith("cannot read ")
    assert warned[0].endswith("; compared without it")


def test_a_run_with_no_readable_trial_is_nothing_to_compare(tmp_path: Path) -> None:
    # The README's exit codes: 3 is "nothing to compare", 2 is bad input. An empty run folder
    # exited 2 once.
    warned: list[str] = []
    comparisons, left_out = compare_stored(CompareOptions(run_dir=tmp_path), warned.append)
    assert (comparisons, left_out) == ([], {}) and exit_code(comparisons) == 3
    assert warned == [f"no readable trials in {tmp_path}: nothing to compare"]
    with pytest.raises(LoadgenError, match="--delta takes METRIC=FRACTION, not 'p99'"):
        compare_stored(CompareOptions(run_dir=tmp_path, deltas=("p99",)), print)
