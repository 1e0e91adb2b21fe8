"""Every target on every server, started for real: each endpoint answers as it should."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from loadgen.servers.launchers import TARGETS_DIR, ServerProcess, ServerSpec, running_server
from tests.conftest import SERVER_CORES

SERVERS = ["uvicorn", "uvicorn-h11", "hypercorn", "granian", "daphne"]
TARGETS = ["raw", "starlette", "fastapi"]
SIZES = {"ROUTES": "20", "MOUNT_DEPTH": "3", "HOSTS": "4"}


def _common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("targets_common", TARGETS_DIR / "_common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


digest = _common().digest


@pytest.fixture(params=[(s, t) for s in SERVERS for t in TARGETS],
                ids=[f"{t}-on-{s}" for s in SERVERS for t in TARGETS])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    server, target = request.param
    spec = ServerSpec(server, f"{target}_app:app", cpus=SERVER_CORES, env=tuple(SIZES.items()),
                      log_path=tmp_path / "server.log")
    process: ServerProcess = running_server(spec)
    with process, httpx.Client(base_url=f"http://{process.endpoint.authority}",
                               follow_redirects=False, timeout=10) as client:
        yield client


def test_every_endpoint(client: httpx.Client) -> None:
    assert client.get("/plaintext").text == "Hello, world!"
    assert client.get("/json").json() == {"message": "Hello, world!"}
    assert client.get("/health").status_code == 200
    # Routing: first and last static routes, a parameter route, every convertor.
    assert client.get("/r0/items").text == "/r0/items"
    assert client.get("/r19/items").text == "/r19/items"
    assert client.get("/r19/items/42").json() == {"id": 42}
    assert client.get("/conv/str/abc").json() == {"v": "abc"}
    assert client.get("/conv/int/7").json() == {"v": "7"}
    assert client.get("/conv/float/2.5").json() == {"v": "2.5"}
    some_uuid = str(uuid.uuid4())
    assert client.get(f"/conv/uuid/{some_uuid}").json() == {"v": some_uuid}
    assert client.get("/conv/path/a/b/c").json() == {"v": "a/b/c"}
    assert client.get("/m0/m1/m2/leaf").status_code == 200
    assert client.get("/host", headers={"host": "h3.example.com"}).status_code == 200
    # The sizes came from the environment: route 20 does not exist, nor host 4.
    assert client.get("/r20/items").status_code == 404
    assert client.get("/host", headers={"host": "h4.example.com"}).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    redirect = client.get("/r0/items/")
    assert redirect.status_code == 307
    assert redirect.headers["location"].endswith("/r0/items")
    assert client.post("/r19/items").status_code == 405


def test_forms_are_parsed_part_by_part(client: httpx.Client) -> None:
    fields = {"alpha": "1", "beta": "two", "gamma": "x" * 1000}
    files = {"upload": ("data.bin", bytes(range(256)) * 40, "application/octet-stream"),
             "second": ("crlf.txt", b"\r\n--\r\n" * 500, "text/plain")}
    answer = client.post("/upload", data=fields, files=files)
    assert answer.status_code == 200, answer.text
    expected = digest([*((k, v.encode(), False) for k, v in fields.items()),
                       *((k, f[1], True) for k, f in files.items())])
    assert answer.json() == expected

    pairs = [(f"f{i}", f"value {i}&=") for i in range(50)]
    answer = client.post("/urlencoded", data=dict(pairs))
    assert answer.status_code == 200, answer.text
    assert answer.json() == digest((k, v.encode(), False) for k, v in pairs)
