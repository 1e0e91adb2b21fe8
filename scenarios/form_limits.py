"""The form parser's limits: a field just under and just over the part-size limit, and more
fields than the default maximum. Which status comes back depends on the framework and its
version (Starlette added max_part_size later than 0.30); both are accepted, and the status
counts in the result record which it was."""

from loadgen.workloads.scenario import Check, Multipart, Param, Request

DESCRIPTION = "a field under and over the part-size limit, fields over the maximum count"
PARAMS = {
    "part_limit": Param(1024 * 1024, "the part-size limit in bytes (Starlette's default)"),
    "max_fields": Param(1000, "the maximum number of fields (Starlette's default)"),
}


def requests(params: dict) -> list[Request]:
    limit, max_fields = params["part_limit"], params["max_fields"]
    accepted_or_refused = Check(status=(200, 400), digest=True)
    return [
        Request("field under the part limit", "/upload", "POST", check=Check(digest=True),
                body=Multipart(fields=(("big", "x" * (limit - 1024)),))),
        Request("field over the part limit", "/upload", "POST", check=accepted_or_refused,
                body=Multipart(fields=(("big", "x" * (limit + 1024)),))),
        Request("one field over the maximum", "/upload", "POST", check=accepted_or_refused,
                body=Multipart(fields=tuple((f"f{i}", "v") for i in range(max_fields + 1)))),
    ]
