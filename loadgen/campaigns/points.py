"""The axis of a history: the commits of a git repository or the released versions of a package.

Both are an ordered list of `Point`s, each naming what to install to serve the subject as it was
at that point, so the rest of the toolkit does not care which kind of axis it walks.

    /path/to/repo  or  https://host/repo.git     with a series: A..B, a,b,c, tags, tags:v1.*
    starlette==0.30.0..1.10.0  or  starlette==0.30.0,0.37.2,1.10.0   (versions from the index)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import TypeVar

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from loadgen.errors import LoadgenError
from loadgen.results.history import Point
from loadgen.servers.envs import CACHE_ROOT

# Clones of repositories (repos/) and their work trees (checkouts/).
CACHE_DIR = CACHE_ROOT
DEFAULT_INDEX = "https://pypi.org/simple"
GIT_TIMEOUT_S = 600
T = TypeVar("T")


def is_version_series(subject: str) -> bool:
    return "==" in subject and "://" not in subject and not Path(subject).exists()


def subject_name(subject: str) -> str:
    """A short name for the subject, for folders and titles: the package or the repository."""
    if is_version_series(subject):
        return str(canonicalize_name(subject.partition("==")[0].strip()))
    return re.sub(r"\.git$", "", subject.rstrip("/").rsplit("/", 1)[-1]) or "repository"


# ---------------------------------------------------------------- released versions


def _index_url() -> str:
    return os.environ.get("UV_INDEX_URL") or DEFAULT_INDEX


def _released(name: str) -> dict[Version, str]:
    """Every release of `name` on the index that is not wholly yanked, with its first upload."""
    url = f"{_index_url().rstrip('/')}/{name}/"
    try:
        response = httpx.get(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                             timeout=30, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise LoadgenError(f"cannot read the versions of {name} from {url}: {exc}") from None
    if response.status_code == 404:
        raise LoadgenError(f"no package {name!r} on {_index_url()}")
    if response.status_code != 200:
        raise LoadgenError(f"cannot read the versions of {name} from {url}: "
                           f"HTTP {response.status_code}")
    releases: dict[Version, str] = {}
    for file in response.json().get("files", []):
        filename = file["filename"]
        try:
            version = (parse_wheel_filename(filename)[1] if filename.endswith(".whl")
                       else parse_sdist_filename(filename)[1])
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue  # an old upload with a name the standards do not cover
        if file.get("yanked"):
            continue
        uploaded = str(file.get("upload-time") or "")
        releases[version] = min(filter(None, (releases.get(version), uploaded)), default="")
    return releases


def _version(text: str, subject: str) -> Version:
    try:
        return Version(text.strip())
    except InvalidVersion:
        raise LoadgenError(f"{subject}: {text.strip()!r} is not a version") from None


def version_points(subject: str, every: int = 1) -> list[Point]:
    """The versions of `name==A..B` (every release from A to B, pre-releases left out) or of
    `name==a,b,c` (those), oldest first."""
    name, _, series = subject.partition("==")
    name = str(canonicalize_name(name.strip()))
    if ".." in series:
        low_text, _, high_text = series.partition("..")
        low, high = _version(low_text, subject), _version(high_text, subject)
        if low > high:
            raise LoadgenError(f"{subject}: the range runs from an older to a newer version")
        releases = _released(name)
        for end in (low, high):
            if end not in releases:
                raise LoadgenError(f"{subject}: {name} {end} is not released on {_index_url()}")
        chosen = thin([v for v in sorted(releases) if low <= v <= high and not v.is_prerelease],
                      every)
    else:
        chosen = [_version(text, subject) for text in series.split(",") if text.strip()]
        if not chosen:
            raise LoadgenError(f"{subject}: names no version")
        releases = _released(name)
        missing = [str(v) for v in chosen if v not in releases]
        if missing:
            raise LoadgenError(f"{subject}: not released on {_index_url()}: {', '.join(missing)}")
    return [Point("version", str(v), str(v), f"{name}=={v}", releases[v]) for v in chosen]


def thin(items: list[T], every: int) -> list[T]:
    """Every `every`th item, always keeping the first and the last (the ends of the range)."""
    if every < 1:
        raise LoadgenError("--every must be at least 1")
    kept = items[::every]
    if items and kept[-1] is not items[-1]:
        kept.append(items[-1])
    return kept


# ---------------------------------------------------------------- commits of a repository


def _git(repo: Path | str, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          timeout=GIT_TIMEOUT_S)
    if done.returncode:
        message = " ".join(done.stderr.split()) or f"git {' '.join(args)} failed"
        raise LoadgenError(f"{repo}: {message}")
    return done.stdout


def _is_url(subject: str) -> bool:
    return "://" in subject or re.match(r"^[\w.-]+@[\w.-]+:", subject) is not None


def repository(subject: str, fetch: bool = True) -> Path:
    """A local clone of the subject: the path itself, or a cached clone of a URL (fetched)."""
    if not _is_url(subject):
        path = Path(subject).expanduser().resolve()
        if not path.exists():
            raise LoadgenError(f"no repository at {subject}: the path does not exist")
        if not (path / ".git").exists() and _git_dir(path) is None:
            raise LoadgenError(f"{subject} is not a git repository")
        return path
    clone = CACHE_DIR / "repos" / hashlib.sha256(subject.encode()).hexdigest()[:16]
    if not (clone / ".git").exists():
        shutil.rmtree(clone, ignore_errors=True)
        clone.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["git", "clone", "--quiet", subject, str(clone)],
                              capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
        if done.returncode:
            shutil.rmtree(clone, ignore_errors=True)
            raise LoadgenError(f"cannot clone {subject}: {' '.join(done.stderr.split())}")
    elif fetch:
        _git(clone, "fetch", "--quiet", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*")
    return clone


def _git_dir(path: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "--git-dir"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def resolve(repo: Path, revision: str) -> str:
    """The full hash of a revision, or one clear line saying it is not there."""
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet",
                           f"{revision}^{{commit}}"], capture_output=True, text=True)
    if done.returncode:
        # A clone of a URL has the remote's branches under origin/.
        if not revision.startswith("origin/") and _is_clone(repo):
            return resolve(repo, f"origin/{revision}")
        raise LoadgenError(f"{repo}: no commit {revision!r}")
    return done.stdout.strip()


def _is_clone(repo: Path) -> bool:
    return repo.is_relative_to(CACHE_DIR)


def commits(repo: Path, series: str, every: int = 1) -> list[str]:
    """The full hashes a series names, oldest first.

    `A..B` is A and every commit after it up to B along the first-parent line (so, unlike
    git's own range, it starts at A: the point every later one is measured against);
    `tags` or `tags:PATTERN` is the tags in commit order; `a,b,c` is those commits."""
    if ".." in series:
        first, _, last = series.partition("..")
        if not first or not last:
            raise LoadgenError(f"{series!r}: a range needs both ends, as in v1.0..main")
        start, end = resolve(repo, first), resolve(repo, last)
        after = _git(repo, "rev-list", "--reverse", "--first-parent", f"{start}..{end}").split()
        if not after and start != end:
            raise LoadgenError(f"{series!r}: {last} does not come after {first}")
        return thin([start, *after], every)
    if series == "tags" or series.startswith("tags:"):
        pattern = series.partition(":")[2] or "*"
        tags = _git(repo, "tag", "--list", "--sort=creatordate", pattern).split()
        if not tags:
            raise LoadgenError(f"{repo}: no tag matches {pattern!r}")
        return thin(list(dict.fromkeys(resolve(repo, t) for t in tags)), every)
    named = [resolve(repo, r.strip()) for r in series.split(",") if r.strip()]
    if not named:
        raise LoadgenError(f"{series!r} names no commit")
    return thin(named, every)


def checkout(repo: Path, commit: str) -> Path:
    """A cached work tree of the repository at `commit` (with its .git, for packages whose
    version comes from git), made once and reused."""
    home = CACHE_DIR / "checkouts" / hashlib.sha256(str(repo).encode()).hexdigest()[:12] / commit
    if (home / ".ready").exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    _git(home.parent, "clone", "--quiet", "--shared", "--no-checkout", str(repo), home.name)
    _git(home, "checkout", "--quiet", "--detach", commit)
    (home / ".ready").write_text("")
    return home


def commit_points(subject: str, series: str, every: int = 1) -> list[Point]:
    """The points of a repository's series; each installs from its own cached work tree."""
    repo = repository(subject)
    points = []
    for commit in commits(repo, series, every):
        date, title = _git(repo, "show", "-s", "--format=%cI%n%s", commit).split("\n", 1)
        points.append(Point("commit", commit, commit[:8], str(checkout(repo, commit)),
                            date.strip(), title.strip()))
    return points


def points(subject: str, series: str | None = None, every: int = 1) -> list[Point]:
    """The points of either kind of subject."""
    if is_version_series(subject):
        if series is not None:
            raise LoadgenError("a package's versions go in the subject, as in "
                               "starlette==0.30.0..1.10.0; the series is for repositories")
        return version_points(subject, every)
    if series is None:
        raise LoadgenError("give the commits to measure: A..B, a,b,c, tags or tags:PATTERN")
    return commit_points(subject, series, every)
