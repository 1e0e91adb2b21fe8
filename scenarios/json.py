"""The baseline with serialisation: a small JSON object."""

from loadgen.workloads.scenario import Check, Request

DESCRIPTION = "GET /json: a small JSON object"
PARAMS: dict = {}


def requests(params: dict) -> list[Request]:
    return [Request("json", "/json", check=Check(json={"message": "Hello, world!"}))]
