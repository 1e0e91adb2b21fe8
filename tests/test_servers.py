"""Server processes: started for real, ready when they answer, gone when stopped."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from loadgen.errors import LoadgenError
from loadgen.servers import ServerSpec, running_server

from .conftest import APPS_DIR, SERVER_CORES


def test_server_is_pinned_answers_and_leaves_nothing_behind(tmp_path: Path) -> None:
    server = running_server(ServerSpec("uvicorn", "raw_app:app", cpus=SERVER_CORES,
                                       log_path=tmp_path / "log"))
    with server:
        assert server.process is not None
        process = psutil.Process(server.process.pid)
        assert tuple(process.cpu_affinity()) == SERVER_CORES
        group = [process, *process.children(recursive=True)]
    _, alive = psutil.wait_procs(group, timeout=5)
    assert not alive


def test_a_server_that_fails_to_start_quotes_its_log(tmp_path: Path) -> None:
    server = running_server(ServerSpec("uvicorn", "no_such_module:app", app_dir=APPS_DIR,
                                       log_path=tmp_path / "log"))
    with pytest.raises(LoadgenError, match=r"uvicorn exited during start-up.*no_such_module"):
        server.start()
    assert server.process is None
