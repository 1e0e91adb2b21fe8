"""Routing: the matched route's position, parameter convertors, misses, Mounts and Hosts.

Starlette scans its routes in order, so the cost of a request grows with the position of the
route it matches; the first, middle and last static routes are reported apart, so a router
regression shows in the one that moved. A miss scans everything twice (redirect_slashes).
"""

import random
import string
import uuid

from loadgen.workloads.scenario import Check, Param, Request

DESCRIPTION = "static routes at three depths, convertors, 404, 405, redirect, Mount, Host"
PARAMS = {
    "routes": Param(100, "static routes (and as many parameter routes)", target_env="ROUTES"),
    "mount_depth": Param(2, "depth of the Mount chain", target_env="MOUNT_DEPTH"),
    "hosts": Param(10, "Host routes; the last one is requested", target_env="HOSTS"),
}


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=8))


def requests(params: dict) -> list[Request]:
    n, depth, hosts = params["routes"], params["mount_depth"], params["hosts"]
    mounted = "".join(f"/m{level}" for level in range(depth)) + "/leaf"

    positions = {"first route": 0, "middle route": n // 2, "last route": n - 1}
    return [
        *(Request(name, f"/r{i}/items", check=Check(contains=f"/r{i}/items".encode()))
          for name, i in positions.items()),
        Request("last param route (int)", lambda rng: f"/r{n - 1}/items/{rng.randrange(10**6)}",
                check=Check(contains=b'"id":')),
        Request("convertor str", lambda rng: f"/conv/str/{_word(rng)}",
                check=Check(contains=b'"v":')),
        Request("convertor int", lambda rng: f"/conv/int/{rng.randrange(10**9)}",
                check=Check(contains=b'"v":')),
        Request("convertor float", lambda rng: f"/conv/float/{rng.randrange(10**4)}.25",
                check=Check(contains=b'"v":')),
        Request("convertor uuid",
                lambda rng: f"/conv/uuid/{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                check=Check(contains=b'"v":')),
        Request("convertor path", lambda rng: f"/conv/path/{_word(rng)}/{_word(rng)}",
                check=Check(contains=b'"v":')),
        Request("404 miss", "/no/such/route", check=Check(status=(404,))),
        Request("405 POST to last route", f"/r{n - 1}/items", method="POST",
                check=Check(status=(405,))),
        Request("trailing-slash redirect", "/r0/items/", check=Check(status=(307,))),
        Request(f"mount depth {depth}", mounted, check=Check(contains=mounted.encode())),
        Request(f"last of {hosts} hosts", "/host",
                headers=(("host", f"h{hosts - 1}.example.com"),), check=Check(contains=b"/host")),
    ]
