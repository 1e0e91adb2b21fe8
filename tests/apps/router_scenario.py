"""The history tests' scenario: the tiny router's three routes, equally often."""

from loadgen.workloads.scenario import Check, Request

DESCRIPTION = "the tiny router's routes /a, /b and /c"


def requests(params: dict) -> list[Request]:
    return [Request(path, path, check=Check(contains=path.encode())) for path in ("/a", "/b", "/c")]
