"""One run as `loadgen run` asks for it: a URL loaded as it is, or a target started for the run;
the options read into a load profile, a placement and a workload, and checked (where the
results go, too) before any load is sent. Then what follows the run's summary: the outputs
written, the profile said and the exit code."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

from loadgen.engine.plan import IntervalSink
from loadgen.errors import LoadgenError
from loadgen.measure.runner import Placement
from loadgen.measure.trial import run_served, run_workload
from loadgen.results.output import check_file, save
from loadgen.results.run import RunResult
from loadgen.servers import pyspy
from loadgen.servers.launchers import H2_PROTOCOLS, TLS, ServerSpec, target_app
from loadgen.servers.serving import checked_workers
from loadgen.workloads.choice import choose_workload
from loadgen.workloads.profile import LoadProfile, parse_duration, parse_stages
from loadgen.workloads.request import parse_url
from loadgen.workloads.tls import Tls

RESULTS = Path("results")  # where a target's server log and profile go without --json
EXIT_FAILED = 1  # the run's own figures failed: nothing succeeded, or too much failed
EXIT_INTERRUPTED = 130  # the shell's code for SIGINT; the results were written all the same


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The run command's options, durations and shares as the user writes them: each field's
    default is its option's, and the text in its Annotated type is its option's help."""

    url: str | None = None  # the URL; with `target`, a path of the target's
    connections: Annotated[int, "Connections (open loop: the most in use at once)."] = 64
    rate: Annotated[float | None, "Open loop at this many requests per second."] = None
    stages: Annotated[str | None, "Open loop through stages 'duration:rate,...', ramping "
                                  "linearly."] = None
    arrival: Annotated[str, "Spacing of open-loop requests."] = "constant"
    duration: Annotated[str | None, "Measured time, e.g. 10s, 500ms, 2m.  [default: 10s]"] = None
    warmup: Annotated[str, "Unmeasured time first."] = "1s"
    timeout: Annotated[str, "Per-request time-out."] = "5s"
    processes: Annotated[int, "Worker processes, each on its own core."] = 1
    cpu_list: Annotated[str | None, "Cores for the generator, e.g. 1 or 2-3."] = None
    cluster: Annotated[str | None, "Run the --processes generator processes on this Dask "
                                   "scheduler's workers (pip install 'loadgen[cluster]')."] = None
    seed: Annotated[int, "Seed for Poisson arrivals."] = 0
    timer_slack: Annotated[str, "Open loop: least time between wake-ups; requests may be this "
                                "late so that one wake-up sends several."] = "100us"
    target: Annotated[str | None, "Start this app from targets/ and load it (URL is then a "
                                  "path)."] = None
    server: Annotated[str, "Server for --target."] = "uvicorn"
    workers: Annotated[int, "Server worker processes for --target."] = 1
    scenario: Annotated[str | None, "A built-in scenario (see `loadgen scenarios`) or a "
                                    "file."] = None
    params: Annotated[tuple[str, ...], "A scenario parameter; repeat for several."] = ()
    check_every: Annotated[int, "Check every Nth response's body in full (0: never); statuses "
                                "are checked for every response."] = 100
    variants: Annotated[int, "Pre-encoded variants of each scenario request (random paths, "
                             "bodies)."] = 16
    json_path: Annotated[Path | None, "Write the result."] = None
    max_failed: Annotated[str | None, "Exit 1 when more than this share of requests failed "
                                      "(errors or unexpected statuses), e.g. 1% or 0.01, as "
                                      "k6's thresholds do. With none succeeded it exits 1 "
                                      "whatever this is."] = None
    hlog_path: Annotated[Path | None, "Write per-second histograms in the HdrHistogram log "
                                      "format."] = None
    insecure: Annotated[bool, "https://: do not check the server's certificate (self-signed "
                              "ones)."] = False
    ca: Annotated[str | None, "https://: trust the certificates this PEM file signed."] = None
    tls_resume: Annotated[bool, "https://: reconnects resume an earlier TLS session (off: "
                                "every connection pays a full handshake, as a new client "
                                "does)."] = False
    unix_socket: Annotated[str | None, "Connect through this Unix socket, not to the URL's "
                                       "host (which the Host header still names), as curl "
                                       "does."] = None
    h2: Annotated[bool, "HTTP/2: over TLS by ALPN (https://), else cleartext with prior "
                        "knowledge (h2c)."] = False
    streams: Annotated[int, "With --h2 (or --protocol h2, h2c): requests at once on each "
                            "connection, each on a stream of its own."] = 1
    protocol: Annotated[str, "With --target: how the server is reached."] = "http1"
    profiled: Annotated[bool, "With --target: py-spy samples the server (every worker) in the "
                              "measured window, on the server's cores, into NAME.flame.svg "
                              "and NAME.speedscope.json beside --json and named after it, "
                              "else in results/ as TARGET-SERVER.*. It perturbs the figures; "
                              "the result says so."] = False
    failed_limit: float | None = field(init=False)  # --max-failed as a share

    def __post_init__(self) -> None:  # a bad --max-failed fails before anything else
        object.__setattr__(self, "failed_limit", None if self.max_failed is None
                           else parse_share(self.max_failed, "--max-failed"))

    def tls(self) -> Tls | None:
        """The TLS options, if any was given."""
        if not (self.insecure or self.ca or self.tls_resume):
            return None
        return Tls(self.ca, self.insecure, self.tls_resume)

    def load_profile(self) -> LoadProfile:
        """Closed loop, or open at --rate or through --stages; 10 s unless told."""
        common: dict[str, object] = dict(
            connections=self.connections, arrival=self.arrival,
            warmup_s=parse_duration(self.warmup), timeout_s=parse_duration(self.timeout),
            processes=self.processes, seed=self.seed,
            timer_slack_s=parse_duration(self.timer_slack),
        )
        if self.rate is not None and self.stages is not None:
            raise LoadgenError("--rate and --stages cannot be used together: "
                               "stages set their own rates")
        if self.stages is not None:
            if self.duration is not None:
                raise LoadgenError("--duration and --stages cannot be used together: "
                                   "the stages' durations add up to the run's")
            return LoadProfile.staged(parse_stages(self.stages), **common)
        duration_s = parse_duration(self.duration or "10s")
        if self.rate is not None:
            return LoadProfile.constant(self.rate, duration_s, **common)
        return LoadProfile(duration_s=duration_s, **common)  # type: ignore[arg-type]

    def failure(self, result: RunResult) -> str | None:
        """Why the run failed (exit code 1), if it did: no request succeeded, or more failed
        than --max-failed."""
        limit = self.failed_limit
        if not result.succeeded:
            return "no request succeeded"
        if limit is not None and result.failed_share > limit:
            return (f"{result.failed_share:.2%} of requests failed, more than --max-failed "
                    f"{limit:.2%}")
        return None


def finish_run(options: RunOptions, result: RunResult, say: Callable[[str], None],
               warn: Callable[[str], None]) -> int:
    """What follows a run's summary: its outputs written where asked, its profile said, and
    its exit code: 130 when interrupted, 1 when it failed (and why is said), else 0."""
    save_outputs({"--json": (options.json_path, result.json_text),
                  "--hlog": (options.hlog_path, result.hlog_text)}, say)
    if result.py_spy is not None and result.py_spy.problem is not None:
        warn(f"no profile: {result.py_spy.problem}")
    elif result.py_spy is not None:
        say(f"wrote {result.py_spy.flamegraph} and {result.py_spy.speedscope} "
            f"({result.py_spy.samples:,} samples)")
    if result.interrupted:
        return EXIT_INTERRUPTED
    failure = options.failure(result)
    if failure is not None:
        warn(f"error: {failure}")
        return EXIT_FAILED
    return 0


def save_outputs(outputs: dict[str, tuple[Path | None, Callable[[], str]]],
                 say: Callable[[str], None]) -> None:
    """Write each asked-for output (option: path and text), saying where; one that fails is
    rescued (output.save) and, once every other is written, the failure is the run's error."""
    failures = []
    for option, (path, text) in outputs.items():
        if path is None:
            continue
        try:
            say(f"wrote {save(path, text(), option)}")
        except LoadgenError as exc:
            failures.append(str(exc))
    if failures:
        raise LoadgenError("; ".join(failures))


def parse_share(text: str, option: str) -> float:
    """A share from '1%' or '0.01', in [0, 1]."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN fails too
        raise LoadgenError(f"{option} takes a share such as 1% or 0.01, not {text!r}")
    return value


def pyspy_executable(warn: Callable[[str], None]) -> str | None:
    """py-spy, where it can sample; None, said in one line, where not (the run goes on)."""
    executable = pyspy.find_pyspy()
    problem = pyspy.unavailable(executable)
    if problem is not None:
        warn(f"no profile: {problem}")
        return None
    return executable


def run_single(options: RunOptions, on_interval: IntervalSink | None,
               warn: Callable[[str], None]) -> RunResult:
    """Check the options, then run: against the URL, or against the target started on the
    server's cores. A target's server log and py-spy profile are named after --json, else
    after the target and server in results/."""
    for option, out in (("--json", options.json_path), ("--hlog", options.hlog_path)):
        if out is not None:
            check_file(out, option)
    profile = options.load_profile()
    placement = Placement.apart(options.processes, options.cpu_list, options.cluster)
    if options.check_every < 0 or options.variants < 1:
        raise LoadgenError("--check-every must be 0 or more and --variants at least 1")
    if options.target is not None and (options.ca or options.insecure or options.unix_socket):
        raise LoadgenError("with --target, loadgen makes the certificate and the socket: "
                           "give --protocol https or uds instead")
    if options.streams < 1:
        raise LoadgenError(f"--streams must be at least 1, not {options.streams}")
    h2 = options.h2 or options.protocol in H2_PROTOCOLS
    if options.streams != 1 and not h2:
        raise LoadgenError("--streams goes with --h2 (or --protocol h2 or h2c)")
    if options.h2 and options.target is not None:
        raise LoadgenError("with --target, give --protocol h2 (over TLS) or h2c, not --h2")
    if options.tls_resume and options.target is not None and options.protocol not in TLS:
        raise LoadgenError("--tls-resume goes with --protocol https or h2")
    if options.target is None:
        if options.protocol != "http1":
            raise LoadgenError("--protocol goes with --target; a URL says its own (https://, "
                               "--unix-socket)")
        if options.url is None:
            raise LoadgenError("give a URL to load, or --target to start one")
        if options.profiled:
            raise LoadgenError("--profile samples a server loadgen starts: give --target")
        endpoint, path = parse_url(options.url, options.tls(), options.unix_socket,
                                   options.streams if options.h2 else 0)
        workload = choose_workload(path, options.scenario, options.params, options.variants,
                                   options.seed)
        # The server is not loadgen's: none of this machine's cores is its.
        return run_workload(endpoint, workload, profile, replace(placement, server=None),
                            on_interval, check_every=options.check_every)
    path = options.url or "/plaintext"
    if not path.startswith("/"):
        raise LoadgenError(f"with --target, give a path such as /plaintext, not {path!r}")
    workload = choose_workload(path, options.scenario, options.params, options.variants,
                               options.seed)
    folder, name = ((options.json_path.parent, options.json_path.stem) if options.json_path
                    else (RESULTS, f"{options.target}-{options.server}"))
    spec = ServerSpec(options.server, target_app(options.target),
                      workers=checked_workers(options.workers), cpus=placement.server or (),
                      log_path=folder / f"{name}.server.log", protocol=options.protocol,
                      tls_resume=options.tls_resume, streams=options.streams)
    executable = pyspy_executable(warn) if options.profiled else None
    sampling = pyspy.SamplingPlan(folder, name, executable) if executable else None
    return run_served(spec, options.target, workload, profile, placement, on_interval,
                      options.check_every, sampling)
