from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.analysis.compare import MAX_LOOKS
from loadgen.campaigns.benchfile import load_bench, with_budget
from loadgen.errors import LoadgenError

MINIMAL = """
rounds = 2
[load]
rate = 200
duration = "2s"
[[target]]
name = "a"
app = "raw"
[[target]]
name = "b"
app = "raw"
[[server]]
name = "uvicorn"
[[scenario]]
name = "plaintext"
[[scenario]]
name = "routing"
params = { routes = 20 }
rate = 50
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_the_matrix_and_its_profiles(tmp_path: Path) -> None:
    bench = load_bench(write(tmp_path, MINIMAL))
    assert [c.name for c in bench.cells()] == [
        "a/uvicorn/plaintext", "a/uvicorn/routing", "b/uvicorn/plaintext", "b/uvicorn/routing"]
    assert bench.baseline == ("a", "uvicorn")
    plaintext, routing = bench.scenarios
    assert routing.params == (("routes", "20"),)
    assert bench.profile(plaintext).stages[0].rate == 200
    assert bench.profile(routing).stages[0].rate == 50
    assert bench.profile(routing).duration_s == 2
    assert (bench.budget_s, bench.looks) == (None, 1)  # no budget: one look at 95%


def test_a_budget_allows_more_looks(tmp_path: Path) -> None:
    bench = load_bench(write(tmp_path, 'budget = "10m"\n' + MINIMAL))
    assert (bench.budget_s, bench.looks) == (600, MAX_LOOKS)
    assert (with_budget(bench, 0).budget_s, with_budget(bench, 0).looks) == (None, 1)


@pytest.mark.parametrize(("text", "message"), [
    ("rounds = 2\n[[server]]\nname='uvicorn'\n[[scenario]]\nname='json'\n",
     "needs at least one [[target]]"),
    (MINIMAL.replace("rounds = 2", "rounds = 1"), "rounds must be a whole number at least 2"),
    (MINIMAL.replace("rounds = 2", 'rounds = "three"'), "rounds must be a whole number"),
    (MINIMAL.replace('duration = "2s"', 'durration = "2s"'),
     "[load]: unknown key 'durration'; did you mean 'duration'"),
    ("roundz = 2\n" + MINIMAL, "unknown key 'roundz'; did you mean 'rounds'"),
    (MINIMAL.replace("rate = 200", "rate = nan"),
     "rate must be a number above 0, not nan"),
    (MINIMAL.replace('name = "uvicorn"', 'name = "uvicron"'), "unknown server 'uvicron'"),
    ("paired = 'yes'\n" + MINIMAL, "paired must be true or false, not 'yes'"),
    ('baseline = { target = "c" }\n' + MINIMAL, "baseline c/uvicorn is not in the matrix"),
    (MINIMAL.replace('duration = "2s"', 'duration = "soon"'), "not a duration"),
    ('budget = "ten minutes"\n' + MINIMAL, "bench.toml: budget: not a duration: 'ten minutes'"),
    ("rounds = [", "bench.toml: "),
])
def test_bad_bench_files_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LoadgenError, match=message.replace("[", r"\[")):
        load_bench(write(tmp_path, text))
