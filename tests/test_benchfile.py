from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.benchfile import load_bench
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


@pytest.mark.parametrize(("text", "message"), [
    ("rounds = 2\n[[server]]\nname='uvicorn'\n[[scenario]]\nname='json'\n",
     "needs at least one [[target]]"),
    (MINIMAL.replace("rounds = 2", "rounds = 1"), "rounds must be at least 2"),
    ('baseline = { target = "c" }\n' + MINIMAL, "baseline c/uvicorn is not in the matrix"),
    (MINIMAL.replace('duration = "2s"', 'duration = "soon"'), "not a duration"),
    ("rounds = [", "bench.toml: "),
])
def test_bad_bench_files_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LoadgenError, match=message.replace("[", r"\[")):
        load_bench(write(tmp_path, text))
