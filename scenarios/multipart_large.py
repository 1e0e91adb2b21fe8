"""One large upload that the parser spools to disk, meant for closed loop at a concurrency above
the server's thread pool (Starlette writes spooled files in threads; anyio's default is 40)."""

from loadgen.workloads.scenario import Check, File, Multipart, Param, Request

DESCRIPTION = "one 8 MiB file per request (spooled to disk); run closed loop with -c 64"
PARAMS = {"size_mib": Param(8, "size of the file, MiB")}


def requests(params: dict) -> list[Request]:
    size = params["size_mib"] * 1024 * 1024
    return [Request(f"{params['size_mib']} MiB file", "/upload", "POST",
                    body=Multipart(files=(File("file", size),)), check=Check(digest=True),
                    variants=2)]
