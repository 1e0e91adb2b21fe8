"""Multipart and urlencoded forms, parsed by the framework's form parser (python-multipart for
Starlette and FastAPI): many fields, many files, a large file, boundary-dense content, bytes
outside the boundaries. Every answer's counts and sha256 are checked against what was sent."""

from loadgen.workloads.scenario import Check, File, Form, Multipart, Param, Request

DESCRIPTION = "1000 fields, 100 files, a large file, boundary-dense files, preamble, urlencoded"
PARAMS = {
    "fields": Param(1000, "small fields in the many-fields form (the parsers' default cap)"),
    "files": Param(100, "10 KiB files in the many-files form"),
    "large_kib": Param(512, "size of the large file, KiB (kept in memory by the parser)"),
    "dense_kib": Param(1024, "size of the boundary-dense files, KiB"),
}
KIB = 1024


def requests(params: dict) -> list[Request]:
    digest = Check(digest=True)
    dense = params["dense_kib"] * KIB
    crlf_64k = b"\r\n" * (32 * KIB)
    return [
        Request("many fields", "/upload", "POST", check=digest, body=Multipart(
            fields=tuple((f"f{i}", f"value {i:06d}") for i in range(params["fields"])))),
        Request("many files", "/upload", "POST", check=digest, body=Multipart(
            files=tuple(File(f"file{i}", 10 * KIB) for i in range(params["files"])))),
        Request("large file", "/upload", "POST", check=digest, body=Multipart(
            fields=(("title", "large"),), files=(File("file", params["large_kib"] * KIB),))),
        Request("CRLF-dense file", "/upload", "POST", check=digest, body=Multipart(
            files=(File("file", dense, pattern="crlf"),))),
        Request("CRLF-dash-dense file", "/upload", "POST", check=digest, body=Multipart(
            files=(File("file", dense, pattern="crlf-dash"),))),
        Request("preamble and epilogue", "/upload", "POST", check=digest, body=Multipart(
            fields=(("a", "1"), ("b", "2")), files=(File("file", 4 * KIB),),
            preamble=crlf_64k, epilogue=crlf_64k)),
        Request("urlencoded 1000 fields", "/urlencoded", "POST", check=digest, body=Form(
            tuple((f"f{i}", "x" * 64) for i in range(1000)))),
    ]
