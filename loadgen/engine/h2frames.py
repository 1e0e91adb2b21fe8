"""HTTP/2 framing for the engine, sans I/O: requests turned into frames once per template, the
frames of a response read from bytes, and a response's status read off its header block.

A request's header block is the same every time it is sent: every header is a literal "without
indexing" (RFC 7541 6.2.2), so the encoder never touches a dynamic table. Only the stream id in
each frame's header changes from one send to the next.

The client's SETTINGS set the server's header table to 0 bytes (SETTINGS_HEADER_TABLE_SIZE).
Each response's header block can then be read by itself. A server encodes `:status 200` as
the byte 0x88, index 8 of the static table, and the other common statuses as 0x89 to 0x8e. So
the status comes off the first byte of the block, after any table size updates. Any other block
goes to hpack's decoder, with its table held at 0 bytes too.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hpack import Decoder

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x8, 0x9)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE = (
    0x1, 0x2, 0x3, 0x4, 0x5)
REFUSED_STREAM = 0x7
DEFAULT_WINDOW = 65_535
DEFAULT_MAX_FRAME = 16_384
MAX_WINDOW = 2**31 - 1
MAX_STREAM_ID = 2**31 - 1
# The status of the static table's entries 8 to 14 (RFC 7541 appendix A): indexed, one byte.
STATIC_STATUS = {0x88: 200, 0x89: 204, 0x8A: 206, 0x8B: 304, 0x8C: 400, 0x8D: 404, 0x8E: 500}
# Headers a request may not carry in HTTP/2 (RFC 9113 8.2.2); Host becomes :authority.
CONNECTION_SPECIFIC = {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
                       b"upgrade", b"host"}

_HEADER = struct.Struct(">I B I")  # length (24 bits) and type, flags, stream id
_SETTING = struct.Struct(">H I")


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return _HEADER.pack(len(payload) << 8 | kind, flags, stream) + payload


def client_start(streams: int) -> bytes:
    """What a client sends first: the preface, its settings (no server push, no header table,
    `streams` at once, stream windows as wide as they go) and the connection's window opened
    as wide too, so that no response waits for a WINDOW_UPDATE."""
    settings = b"".join(_SETTING.pack(k, v) for k, v in (
        (HEADER_TABLE_SIZE, 0), (ENABLE_PUSH, 0), (MAX_CONCURRENT_STREAMS, streams),
        (INITIAL_WINDOW_SIZE, MAX_WINDOW)))
    return (PREFACE + frame(SETTINGS, 0, 0, settings)
            + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", MAX_WINDOW - DEFAULT_WINDOW)))


def _integer(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """An HPACK integer (RFC 7541 5.1) in a prefix of `prefix_bits`, under the bits `first`."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _literal(text: bytes) -> bytes:
    return _integer(len(text), 7) + text  # no Huffman coding: the block is built once


def header_block(headers: list[tuple[bytes, bytes]]) -> bytes:
    """Each header a literal without indexing, with a literal name: the same bytes every time."""
    return b"".join(b"\x00" + _literal(name) + _literal(value) for name, value in headers)


@dataclass(frozen=True)
class H2Request:
    """One request template as HTTP/2 frames: its HEADERS frame but for the stream id, and its
    body, sent as DATA frames within the server's windows."""

    head: bytes  # the HEADERS frame's first 5 bytes: length, type and flags
    block: bytes  # its payload, the header block
    body: bytes

    def headers(self, stream: int) -> bytes:
        return self.head + stream.to_bytes(4, "big") + self.block


def from_http1(data: bytes, scheme: str, max_frame: int = DEFAULT_MAX_FRAME) -> H2Request:
    """The HTTP/2 form of a request pre-encoded as HTTP/1.1 bytes (loadgen.workloads.request):
    its request line and Host as pseudo-headers, its other headers in lower case, less those
    HTTP/2 does not allow."""
    head, _, body = data.partition(b"\r\n\r\n")
    line, *fields = head.split(b"\r\n")
    method, path, _ = line.split(b" ", 2)
    pairs = [(name.strip().lower(), value.strip())
             for name, _, value in (f.partition(b":") for f in fields)]
    authority = next((v for k, v in pairs if k == b"host"), b"")
    headers = [(b":method", method), (b":scheme", scheme.encode()), (b":authority", authority),
               (b":path", path), *((k, v) for k, v in pairs if k not in CONNECTION_SPECIFIC)]
    block = header_block(headers)
    if len(block) > max_frame:
        raise ValueError(f"a request's headers take {len(block):,} bytes, more than one frame "
                         f"of {max_frame:,}")
    flags = END_HEADERS | (0 if body else END_STREAM)
    return H2Request(_HEADER.pack(len(block) << 8 | HEADERS, flags, 0)[:5], block, body)


def status_of(block: bytes, decoder: Decoder) -> int:
    """A response's status from its header block: off its first byte when it is an indexed
    static status (after any table size updates, 0x20 to 0x3f), else decoded in full."""
    at = 0
    while at < len(block) and (block[at] & 0xE0) == 0x20:  # a dynamic table size update
        at += 1
        if (block[at - 1] & 0x1F) == 0x1F:  # its size goes on in more bytes
            while block[at] & 0x80:
                at += 1
            at += 1
    if at < len(block) and (status := STATIC_STATUS.get(block[at])) is not None:
        return status
    for name, value in decoder.decode(block, raw=True):
        if name == b":status":
            return int(value)
    raise ValueError("a response header block without :status")


def settings(payload: bytes) -> dict[int, int]:
    return dict(_SETTING.unpack_from(payload, at) for at in range(0, len(payload) - 5, 6))


def stateless_decoder() -> Decoder:
    """hpack's decoder, its header table held at the 0 bytes the client's settings ask for."""
    decoder = Decoder()
    # Its table starts empty at 0 bytes: the size update that says so may have gone by in a
    # block the fast path read without it.
    decoder.max_allowed_table_size = decoder.header_table_size = 0
    return decoder
