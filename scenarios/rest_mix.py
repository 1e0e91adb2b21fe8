"""A realistic mix: a REST-shaped API of collection and item routes, Zipf-distributed traffic
(a few routes take most requests, as in production), and 5% misses."""

import random

from loadgen.workloads.scenario import Check, Param, Request

DESCRIPTION = "Zipf traffic over /r{i}/items and /r{i}/items/{id}, 5% misses"
PARAMS = {
    "routes": Param(100, "collections; as many item routes (2 x routes in all)",
                    target_env="ROUTES"),
    "zipf": Param(1.1, "Zipf exponent of the route popularity"),
    "misses": Param(0.05, "share of requests to paths that do not exist"),
}
VARIANTS = 256  # distinct paths drawn per request kind, so the Zipf tail is present


def requests(params: dict) -> list[Request]:
    n, s, misses = params["routes"], params["zipf"], params["misses"]
    ranks = list(range(n))
    weights = [1 / (rank + 1) ** s for rank in ranks]

    def route(rng: random.Random) -> int:
        # Popularity is independent of position in the routing table: shuffle once, seeded.
        order = random.Random(0).sample(ranks, n)
        return order[rng.choices(ranks, weights)[0]]

    hits = 1 - misses
    return [
        Request("collection", lambda rng: f"/r{route(rng)}/items", weight=hits / 2,
                check=Check(contains=b"/items"), variants=VARIANTS),
        Request("item", lambda rng: f"/r{route(rng)}/items/{rng.randrange(10**6)}",
                weight=hits / 2, check=Check(contains=b'"id":'), variants=VARIANTS),
        Request("miss", lambda rng: f"/r{route(rng)}/item/{rng.randrange(10**6)}",
                weight=misses, check=Check(status=(404,)), variants=VARIANTS),
    ]
