"""The baseline: a fixed short text answer."""

from loadgen.workloads.scenario import Check, Request

DESCRIPTION = "GET /plaintext: the server and framework floor"
PARAMS: dict = {}


def requests(params: dict) -> list[Request]:
    return [Request("plaintext", "/plaintext", check=Check(contains=b"Hello, world!"))]
