"""`loadgen ab`, a pull request's check, on the tiny router's real repository
(tests/routerrepo.py) under callgrind: the commit that slows /b is a regression on /b and on the
mix and no change on /a and /c; a commit that touches a comment changes nothing (verified:
counted twice); counts that do not repeat fail --verify; the same commit twice is refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import APPS_DIR, loadgen
from tests.routerrepo import make_repo

SCENARIO = str(APPS_DIR / "router_scenario.py")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("tinyrouter")
    return path, make_repo(path)


def ab(path: Path, base: str, head: str, results: Path, *more: str) -> tuple[int, str, str]:
    done = loadgen("ab", str(path), "--base", base, "--head", head, "--server", "callgrind",
                   "--target", "router", "--app-dir", str(APPS_DIR), "--scenario", SCENARIO,
                   "--results", str(results), *more, timeout=300)
    return done.returncode, done.stdout, done.stderr


def rows(stdout: str) -> dict[str, str]:
    """Each table row's metric and verdict."""
    cells = [line.strip("|").split(" | ") for line in stdout.splitlines()
             if line.startswith("| router_scenario |")]
    return {cell[1].split(" (δ")[0]: cell[-1].strip() for cell in cells}


def test_the_slowed_route_is_a_regression_and_nothing_else(repo: tuple[Path, list[str]],
                                                            tmp_path: Path) -> None:
    path, hashes = repo
    summary = tmp_path / "summary.md"
    summary.write_text("earlier steps\n")
    code, stdout, stderr = ab(path, hashes[2], hashes[3], tmp_path / "results", "--summary",
                              str(summary))
    assert code == 1, stderr
    assert rows(stdout) == {"instructions": "**regression**",
                            "instructions [/a]": "no change",
                            "instructions [/b]": "**regression**",
                            "instructions [/c]": "no change"}
    assert "- verdict: **REGRESSION** (exit 1)" in stdout
    # One round: counts repeat.
    assert all(line.split(" | ")[-2] == "1" for line in stdout.splitlines()
               if line.startswith("| router_scenario |"))
    # Appended, as $GITHUB_STEP_SUMMARY wants.
    assert summary.read_text() == "earlier steps\n" + stdout[stdout.index("# loadgen ab"):-1]


# Slow (36 s and 33 s here): --verify's rule is tested without measuring in
# tests/analysis/test_compare.py; these two run it end to end (make test-slow).
@pytest.mark.slow
def test_a_commit_that_touches_a_comment_changes_nothing_verified(
        repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, hashes = repo
    code, stdout, stderr = ab(path, hashes[4], hashes[5], tmp_path, "--verify")
    assert code == 0, stdout + stderr
    assert set(rows(stdout).values()) == {"no change"}
    # --verify: each commit counted twice, and the two agreed (or the command had failed).
    assert "2 round(s) first" in stdout.splitlines()[0]


STARTS = """
import pathlib
_starts = pathlib.Path(__file__).with_name("starts")
_started = int(_starts.read_text()) if _starts.exists() else 0
_starts.write_text(str(_started + 1))
ROUNDS["/a"] = 40 + _started
"""


@pytest.mark.slow
def test_verify_refuses_counts_that_do_not_repeat(repo: tuple[Path, list[str]],
                                                  tmp_path: Path) -> None:
    # A commit whose /a hashes one round more at each start of the module (a counter in a
    # file beside it): the same build counts differently in each process, always, and
    # --verify says so instead of judging.
    path, _ = repo
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(path), str(clone)], check=True)
    module = clone / "tinyrouter" / "__init__.py"
    module.write_text(module.read_text().replace(
        "\ndef work(", STARTS + "\n\ndef work("))
    subprocess.run(["git", "-C", str(clone), "-c", "user.name=T", "-c", "user.email=t@e",
                    "commit", "--quiet", "-am", "Hash /a once more at each start"], check=True)
    code, stdout, stderr = ab(clone, "HEAD~1", "HEAD", tmp_path / "results", "--verify")
    assert code == 3, stdout + stderr
    assert stderr.startswith("loadgen: harness error: --verify: counts of one build did not "
                             "repeat within 0.01%: ")
    assert "instructions [/a]" in stderr and "instructions [/b]" not in stderr


def test_the_same_commit_twice_is_a_harness_error_in_one_line(repo: tuple[Path, list[str]],
                                                               tmp_path: Path) -> None:
    path, hashes = repo
    code, _, stderr = ab(path, hashes[1], hashes[1][:8], tmp_path)
    assert code == 3
    assert stderr == f"loadgen: harness error: --base and --head are the same commit, " \
                     f"{hashes[1][:8]}\n"
