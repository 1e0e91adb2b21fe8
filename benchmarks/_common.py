"""Shared by the benchmark scripts: system tools installed on demand, a loadgen subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from loadgen.servers.certificates import Certificate
from loadgen.servers.launchers import ServerProcess
from loadgen.workloads.request import Endpoint

LOADGEN = [sys.executable, "-m", "loadgen"]


def ensure_tools(*packages: tuple[str, str]) -> None:
    """Install (command, Debian package) pairs that are missing, with apt-get as root."""
    missing = [pkg for cmd, pkg in packages if shutil.which(cmd) is None
               and not Path("/usr/sbin", cmd).exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing {', '.join(missing)}: apt-get install {' '.join(missing)}")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def loadgen_json(args: list[str]) -> dict[str, object]:
    """Run `loadgen run ARGS --json F` and return the result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "result.json")
        subprocess.run([*LOADGEN, "run", *args, "--json", str(out)], check=True,
                       stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())  # type: ignore[no-any-return]


# nginx with one worker answering a fixed string: the server the generators are measured on.
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path {dir};
  server {{
    listen 127.0.0.1:{port}{tls};
    location / {{ return 200 "Hello, world!"; }}
  }}
}}
"""


def nginx(folder: str, endpoint: Endpoint, cores: tuple[int, ...],
          certificate: Certificate | None = None, http2: bool = False) -> ServerProcess:
    """nginx on `endpoint`, pinned to `cores`, its files in `folder`; over TLS on
    `certificate` when given; HTTP/2 only with `http2` (cleartext: with prior knowledge)."""
    tls = (f" ssl{' http2' if http2 else ''};\n    ssl_certificate {certificate.cert};\n"
           f"    ssl_certificate_key {certificate.key}" if certificate
           else " http2" if http2 else "")
    conf = Path(folder, "nginx.conf")
    conf.write_text(NGINX_CONF.format(dir=folder, port=endpoint.port, tls=tls))
    command = [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-p", folder]
    return ServerProcess("nginx", command, endpoint, cpus=cores,
                         log_path=Path(folder, "nginx.log"))


def wrk_rps(url: str, core: int, connections: int, seconds: int) -> float:
    """`wrk -t1` on `core`: its requests a second."""
    out = subprocess.run(
        ["taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url],
        check=True, capture_output=True, text=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"could not read wrk's output:\n{out}")
    return float(match.group(1))


def h2load_rps(url: str, core: int, connections: int, streams: int, seconds: int) -> float:
    """`h2load -t1` on `core` for `seconds` (after a second's warm-up): its requests a second."""
    out = subprocess.run(
        ["taskset", "-c", str(core), "h2load", "-t1", f"-c{connections}", f"-m{streams}",
         "-D", str(seconds), "--warm-up-time", "1", url],
        check=True, capture_output=True, text=True,
    ).stdout
    match = re.search(r"finished in [\d.]+s, ([\d.]+) req/s", out)
    if not match:
        raise SystemExit(f"could not read h2load's output:\n{out}")
    return float(match.group(1))
