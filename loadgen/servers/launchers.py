"""ASGI servers started as real processes: pinned, polled until ready, stopped for sure.

Each server is one small launcher class behind the `Launcher` protocol; `LAUNCHERS` lists them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

import loadgen_targets
from loadgen.errors import LoadgenError
from loadgen.servers.certificates import Certificate, make_certificate
from loadgen.servers.health import healthy
from loadgen.workloads.request import Endpoint
from loadgen.workloads.tls import Tls

# The built-in targets: targets/ of the project, installed as the package loadgen_targets
# (pyproject.toml maps it), served from the checkout by an editable install. Its first folder:
# an editable install also lists a placeholder that is no folder.
TARGETS_DIR = next(Path(p) for p in loadgen_targets.__path__ if Path(p).is_dir())
READY_TIMEOUT_S = 20.0
STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 15


# How a server is reached: HTTP/1.1 over TCP, over TLS, or over a Unix socket; HTTP/2 over
# TLS (by ALPN), or over TCP with prior knowledge (h2c).
PROTOCOLS = ("http1", "https", "uds", "h2", "h2c")
TLS = ("https", "h2")
H2_PROTOCOLS = ("h2", "h2c")


@dataclass(frozen=True)
class Bind:
    """Where a server listens: host and port, or a Unix socket; with TLS, its certificate."""

    host: str
    port: int
    unix: str | None = None
    certificate: Certificate | None = None
    http2: bool = False


class Launcher(Protocol):
    """How to start one ASGI server: adding a server is one small class."""

    @property
    def name(self) -> str: ...

    @property
    def module(self) -> str:
        """What must be importable in the target's environment."""

    @property
    def lifespan(self) -> bool:
        """Whether it runs the ASGI lifespan protocol."""

    @property
    def protocols(self) -> tuple[str, ...]:
        """The PROTOCOLS it serves."""

    def command(self, python: str, app: str, bind: Bind, workers: int) -> list[str]:
        """The command line that serves `app` ("module:attribute") as `bind` says."""


@dataclass(frozen=True)
class Uvicorn:
    name: str = "uvicorn"
    loop: str = "uvloop"
    http: str = "httptools"
    module: str = "uvicorn"
    lifespan: bool = True
    protocols: tuple[str, ...] = ("http1", "https", "uds")  # no HTTP/2 in uvicorn

    def command(self, python: str, app: str, bind: Bind, workers: int) -> list[str]:
        where = (["--uds", bind.unix] if bind.unix
                 else ["--host", bind.host, "--port", str(bind.port)])
        tls = bind.certificate
        return [python, "-m", "uvicorn", app, *where, "--loop", self.loop, "--http", self.http,
                "--workers", str(workers), "--no-access-log", "--log-level", "warning",
                *(["--ssl-certfile", str(tls.cert), "--ssl-keyfile", str(tls.key)] if tls
                  else [])]


@dataclass(frozen=True)
class Hypercorn:
    name: str = "hypercorn"
    module: str = "hypercorn"
    lifespan: bool = True
    protocols: tuple[str, ...] = PROTOCOLS  # HTTP/2 by ALPN over TLS, by its preface over TCP

    def command(self, python: str, app: str, bind: Bind, workers: int) -> list[str]:
        tls = bind.certificate
        return [python, "-m", "hypercorn", app, "--bind",
                f"unix:{bind.unix}" if bind.unix else f"{bind.host}:{bind.port}",
                "--worker-class", "uvloop", "--workers", str(workers), "--log-level", "warning",
                *(["--certfile", str(tls.cert), "--keyfile", str(tls.key)] if tls else [])]


@dataclass(frozen=True)
class Granian:
    name: str = "granian"
    module: str = "granian"
    lifespan: bool = True
    protocols: tuple[str, ...] = PROTOCOLS

    def command(self, python: str, app: str, bind: Bind, workers: int) -> list[str]:
        where = (["--uds", bind.unix] if bind.unix
                 else ["--host", bind.host, "--port", str(bind.port)])
        tls = bind.certificate
        # --interface asgi always: granian's default interface is its own RSGI.
        return [python, "-m", "granian", "--interface", "asgi", *where,
                "--workers", str(workers), "--http", "2" if bind.http2 else "1",
                "--loop", "uvloop",
                "--log-level", "warning",
                *(["--ssl-certificate", str(tls.cert), "--ssl-keyfile", str(tls.key)] if tls
                  else []), app]


@dataclass(frozen=True)
class Daphne:
    name: str = "daphne"
    module: str = "daphne"
    lifespan: bool = False
    # HTTP/2 only over TLS, as Twisted serves it (with its http2 extra)
    protocols: tuple[str, ...] = ("http1", "https", "uds", "h2")

    def command(self, python: str, app: str, bind: Bind, workers: int) -> list[str]:
        if workers != 1:
            raise LoadgenError("daphne runs a single process: --workers must be 1")
        tls = bind.certificate
        if bind.unix:
            where = ["-u", bind.unix]
        elif tls:  # a Twisted endpoint: TLS needs twisted's tls extra (pyOpenSSL)
            where = ["-e", f"ssl:port={bind.port}:interface={bind.host}:"
                           f"privateKey={tls.key}:certKey={tls.cert}"]
        else:
            where = ["-b", bind.host, "-p", str(bind.port)]
        return [python, "-m", "daphne", *where, "-v", "0", app]


LAUNCHERS: dict[str, Launcher] = {launcher.name: launcher for launcher in (
    Uvicorn(), Uvicorn("uvicorn-h11", loop="asyncio", http="h11"), Hypercorn(), Granian(),
    Daphne(),
)}


@dataclass(frozen=True)
class ServerSpec:
    """Which server serves which app, with which interpreter, on which cores."""

    server: str
    app: str
    app_dir: Path = TARGETS_DIR
    python: str = sys.executable
    workers: int = 1
    cpus: tuple[int, ...] = ()
    log_path: Path | None = None
    host: str = "127.0.0.1"
    port: int | None = None  # a free one when None
    ready_timeout_s: float = READY_TIMEOUT_S
    env: tuple[tuple[str, str], ...] = field(default=())
    protocol: str = "http1"  # one of PROTOCOLS
    tls_resume: bool = False  # https: the generator's connections resume sessions
    streams: int = 1  # h2, h2c: the generator's streams at once on each connection

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise LoadgenError(f"unknown protocol {self.protocol!r}; choose from: "
                               f"{', '.join(PROTOCOLS)}")
        if self.server in LAUNCHERS and self.protocol not in LAUNCHERS[self.server].protocols:
            raise LoadgenError(f"{self.server} does not serve {self.protocol}")


def launcher(name: str) -> Launcher:
    try:
        return LAUNCHERS[name]
    except KeyError:
        raise LoadgenError(f"unknown server {name!r}; choose from: "
                           f"{', '.join(LAUNCHERS)}") from None


def target_names(directory: Path = TARGETS_DIR) -> list[str]:
    return sorted(p.stem.removesuffix("_app") for p in directory.glob("*_app.py"))


def target_app(name: str, directory: Path = TARGETS_DIR) -> str:
    """The app ("module:app") of target NAME, which lives in DIRECTORY/NAME_app.py."""
    if name not in target_names(directory):
        raise LoadgenError(f"unknown target {name!r}; choose from: "
                           f"{', '.join(target_names(directory))}")
    return f"{name}_app:app"


def installed(module: str, python: str = sys.executable) -> bool:
    """Whether `module` can be imported by `python` (the target's environment)."""
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


def free_port(host: str, preferred: int = 0) -> int:
    """`preferred` if it can be bound, else a port the system picks."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise LoadgenError(f"no free port on {host}")


_PR_SET_PDEATHSIG = 1


def _terminate_with_parent() -> None:
    """In the child before exec: SIGTERM it when loadgen dies, even by SIGKILL, so that no
    server outlives a crashed or killed generator (it stops its own workers on SIGTERM)."""
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerProcess:
    """Any server command as a process of its own, for the span of a `with` block: pinned,
    polled until GET /health answers 200, and stopped with its whole process group."""

    def __init__(self, name: str, command: list[str], endpoint: Endpoint, *,
                 cwd: Path | None = None, env: dict[str, str] | None = None,
                 cpus: tuple[int, ...] = (), log_path: Path | None = None,
                 ready_timeout_s: float = READY_TIMEOUT_S, scratch: Path | None = None) -> None:
        self.name = name
        self.command = command
        self.endpoint = endpoint
        self.cwd = cwd
        self.env = env
        self.cpus = cpus
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        self.scratch = scratch  # a folder of its own (certificates, socket), removed at stop
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        self.launch()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def launch(self) -> None:
        """Start the process, pinned, without waiting for it to be ready: servers started
        together then get ready together."""
        log_path = self.log_path or Path(os.devnull)
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = log_path.open("wb")  # this start's log only: its tail explains a failure
        except OSError as exc:
            raise LoadgenError(f"cannot write {self.name}'s log {log_path}: "
                               f"{exc.strerror or exc}") from None
        with log:
            # A session of its own: the whole process group is stopped together, workers too.
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=self.env, start_new_session=True,
                preexec_fn=_terminate_with_parent,
            )
        try:
            if self.cpus:
                os.sched_setaffinity(self.process.pid, self.cpus)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self) -> None:
        """Poll until GET /health answers 200; a fixed sleep would be a guess."""
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LoadgenError(f"{self.name} exited during start-up "
                                   f"(code {self.process.returncode}){self._log_tail()}")
            if healthy(self.endpoint):
                return
            time.sleep(0.05)
        raise LoadgenError(f"{self.name} was not ready within {self.ready_timeout_s:g} s"
                           f"{self._log_tail()}")

    def _log_tail(self) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return ""
        lines = path.read_text(errors="replace").strip().splitlines()[-LOG_TAIL_LINES:]
        return (": " + " | ".join(line.strip() for line in lines)) if lines else ""

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after a grace period."""
        proc = self.process
        if proc is None:
            self._clean()
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=STOP_GRACE_S)
                break
            except subprocess.TimeoutExpired:
                continue
        # Workers of the group may outlive the leader by a moment; make sure none stays.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        self.process = None
        self._clean()

    def _clean(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def running_server(spec: ServerSpec) -> ServerProcess:
    """The ASGI server of `spec`, ready to start, on its port or (if taken) a free one; with
    TLS, on a certificate made for it; on a Unix socket in a folder of its own."""
    scratch = Path(tempfile.mkdtemp(prefix="loadgen-serve-"))
    try:
        port = free_port(spec.host, spec.port or 0)
        certificate = make_certificate(scratch) if spec.protocol in TLS else None
        unix = str(scratch / "server.sock") if spec.protocol == "uds" else None
        http2 = spec.protocol in H2_PROTOCOLS
        bind = Bind(spec.host, port, unix, certificate, http2)
        command = launcher(spec.server).command(spec.python, spec.app, bind, spec.workers)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    endpoint = Endpoint(spec.host, port, None if certificate is None
                        else Tls(ca=str(certificate.ca), resume=spec.tls_resume), unix,
                        spec.streams if http2 else 0)
    env = {**os.environ, "PYTHONPATH": str(spec.app_dir), **dict(spec.env)}
    return ServerProcess(spec.server, command, endpoint, cwd=spec.app_dir, env=env,
                         cpus=spec.cpus, log_path=spec.log_path,
                         ready_timeout_s=spec.ready_timeout_s, scratch=scratch)
