"""Hand-made trials for the tests of what reads them: the reference trial over HTTP
(tests/data/trial-v2.json) with the figures a test is about, so every one is a trial the
readers read."""

from __future__ import annotations

import copy
import json
from typing import Any

from loadgen.results.model import Trial
from loadgen.workloads.profile import LoadProfile
from tests.conftest import DATA_DIR

TEMPLATE = json.loads((DATA_DIR / "trial-v2.json").read_text())
LATENCY = {"p50": 500, "p90": 800, "p99": 1000, "p999": 2000, "p9999": 3000, "max": 4000}


def result_json(requests: int = 100_000, kinds: dict[str, tuple[int, int]] | None = None,
                open_loop: bool = False, **figures: Any) -> dict[str, Any]:
    """A result's JSON with these figures (closed loop unless `open_loop`), and request kinds
    of these (requests, p50) and no other latency."""
    document = copy.deepcopy(TEMPLATE["result"])
    kind = document["kinds"].pop("plaintext")
    profile = LoadProfile.constant(300.0, 1.0) if open_loop else LoadProfile()
    document.update(requests=requests, profile=profile.to_json(), **figures)
    document["latency_us"]["corrected"] = dict(LATENCY)
    for name, (count, p50) in (kinds or {}).items():
        document["kinds"][name] = {**kind, "requests": count, "latency_us": {
            "corrected": dict.fromkeys(LATENCY, 0) | {"p50": p50},
            "uncorrected": kind["latency_us"]["uncorrected"]}}
    return document


def trial_json(target: str, round_: int, cpu: float, *, server: str = "uvicorn",
               scenario: str = "plaintext", rps: float = 1000.0, valid: bool = True,
               status: str = "ok", requests: int = 100_000, pair: str | None = None,
               open_loop: bool = False, **fields: Any) -> dict[str, Any]:
    """A trial document of cell TARGET/SERVER/SCENARIO in round `round_`, its server's CPU per
    request `cpu`; `fields` replace the template's."""
    document = {k: v for k, v in TEMPLATE.items() if k not in ("schema_version", "pair")}
    document.update(round=round_, status=status, cell={
        **TEMPLATE["cell"], "name": f"{target}/{server}/{scenario}", "target": target,
        "server": server, "scenario": scenario}, result=result_json(
            requests, open_loop=open_loop, throughput_rps=rps, valid=valid,
            server_cpu_us_per_request=cpu), **({"pair": pair} if pair else {}), **fields)
    return document


def trial(target: str, round_: int, cpu: float, **options: Any) -> Trial:
    return Trial.from_json(trial_json(target, round_, cpu, **options))
