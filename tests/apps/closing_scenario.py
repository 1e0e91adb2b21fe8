"""Plaintext with `Connection: close`: the server ends each connection after its response, so
every request but each connection's first comes on a reconnect."""

from loadgen.workloads.scenario import Request

DESCRIPTION = "GET /plaintext, each connection closed after its response"


def requests(params: dict) -> list[Request]:
    return [Request("closing", "/plaintext", headers={"Connection": "close"})]
