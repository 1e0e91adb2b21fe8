"""A user, step by step: log in (a form), list a collection, open one to three items, upload a
file. Closed loop: each connection is one such user, starting over when done."""

from loadgen.workloads.scenario import Check, File, Form, Multipart, Param, Request

DESCRIPTION = "flow: log in, list, open 1-3 items, upload (closed loop only)"
PARAMS = {"routes": Param(100, "collections in the target", target_env="ROUTES")}


def requests(params: dict) -> list[Request]:
    n = params["routes"]
    return [
        Request("log in", "/urlencoded", "POST", check=Check(digest=True),
                body=Form((("user", "alice"), ("password", "secret")))),
        Request("list", lambda rng: f"/r{rng.randrange(n)}/items", check=Check(contains=b"/r")),
        Request("open item", lambda rng: f"/r{rng.randrange(n)}/items/{rng.randrange(1000)}",
                check=Check(contains=b'"id":')),
        Request("upload", "/upload", "POST", check=Check(digest=True),
                body=Multipart(fields=(("title", "notes"),), files=(File("file", 16 * 1024),))),
    ]


async def flow(session) -> None:
    login = await session.send("log in")
    if login.status != 200:
        return
    await session.send("list")
    for _ in range(session.rng.randrange(1, 4)):
        await session.send("open item")
    await session.send("upload")
