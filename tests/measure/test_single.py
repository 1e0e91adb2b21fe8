"""`loadgen run`'s options read into a load profile and checked, and what follows a run's
summary: the outputs written, the profile said and the exit code. No load is sent."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from loadgen.errors import LoadgenError
from loadgen.measure.single import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    RunOptions,
    finish_run,
    parse_share,
    save_outputs,
)
from loadgen.workloads.profile import Stage


@pytest.mark.parametrize(("text", "share"), [("1%", 0.01), ("0.01", 0.01), ("0", 0.0),
                                             ("100%", 1.0)])
def test_a_share_is_a_percentage_or_a_fraction(text: str, share: float) -> None:
    assert parse_share(text, "--max-failed") == pytest.approx(share)


@pytest.mark.parametrize("text", ["2", "nan", "5%x", "-1%", ""])
def test_a_bad_max_failed_fails_as_the_options_are_read(text: str) -> None:
    with pytest.raises(LoadgenError, match=r"--max-failed takes a share such as 1% or 0\.01"):
        RunOptions(max_failed=text)


def test_the_load_profile_of_the_options() -> None:
    closed = RunOptions().load_profile()
    assert not closed.open_loop and closed.duration_s == 10 and closed.connections == 64
    constant = RunOptions(rate=100, duration="2s", warmup="0s").load_profile()
    assert constant.stages == (Stage(2.0, 100.0),) and constant.warmup_s == 0
    staged = RunOptions(stages="1s:10,2s:20").load_profile()
    assert staged.duration_s == 3


@pytest.mark.parametrize(("given", "message"), [
    ({"rate": 10, "stages": "1s:10"}, "--rate and --stages cannot be used together"),
    ({"duration": "2s", "stages": "1s:10"}, "--duration and --stages cannot be used together"),
])
def test_stages_set_their_own_rates_and_durations(given: dict[str, Any], message: str) -> None:
    with pytest.raises(LoadgenError, match=message):
        RunOptions(**given).load_profile()


def _result(**figures: Any) -> Any:
    """As much of a RunResult as the end of a run reads."""
    return SimpleNamespace(**{"succeeded": 10, "failed_share": 0.0, "interrupted": False,
                              "py_spy": None, "json_text": lambda: "{}\n",
                              "hlog_text": lambda: "", **figures})


@pytest.mark.parametrize(("figures", "max_failed", "code", "said"), [
    ({}, None, 0, []),
    ({"interrupted": True, "succeeded": 0}, None, EXIT_INTERRUPTED, []),
    ({"succeeded": 0}, None, EXIT_FAILED, ["error: no request succeeded"]),
    ({"failed_share": 0.5}, "10%", EXIT_FAILED,
     ["error: 50.00% of requests failed, more than --max-failed 10.00%"]),
    ({"failed_share": 0.05}, "10%", 0, []),
    ({"py_spy": SimpleNamespace(problem="py-spy is not installed")}, None, 0,
     ["no profile: py-spy is not installed"]),
])
def test_the_exit_code_and_why(figures: dict[str, Any], max_failed: str | None, code: int,
                               said: list[str]) -> None:
    warned: list[str] = []
    assert finish_run(RunOptions(max_failed=max_failed), _result(**figures), print,
                      warned.append) == code
    assert warned == said


def test_each_output_is_written_and_one_that_cannot_be_is_the_error(tmp_path: Path) -> None:
    said: list[str] = []
    blocker = tmp_path / "gone"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(LoadgenError, match=r"^cannot write --json .*; it is in .* instead$") \
            as caught:
        save_outputs({"--json": (blocker / "run.json", lambda: "{}"),
                      "--hlog": (tmp_path / "run.hlog", lambda: "log"),
                      "--other": (None, lambda: "not asked for")}, said.append)
    Path(str(caught.value).rsplit(" it is in ", 1)[1].removesuffix(" instead")).unlink()
    assert said == [f"wrote {tmp_path / 'run.hlog'}"]
    assert (tmp_path / "run.hlog").read_text() == "log"
