"""HTTP/2 connections on the engine: a session per connection, and its streams as the worker's
connections.

The worker hands out requests to connections that each carry one at a time. Over HTTP/2 each
of a session's `--streams` slots is such a connection: the worker's schedule, its time-outs and
its counts work per stream as they do per HTTP/1.1 connection, and latency is timed per stream
from the intended send time. A slot sends each request on a new stream of its session.

What a session does for speed:
- the frames of a request are built once per template (loadgen.engine.h2frames);
- the writes that responses trigger within one read are written together;
- the server's header table is 0 bytes, so a response's status comes off one byte;
- the client's windows are opened wide at the start.

A stream the server resets is counted as `rst_stream`, or `refused_stream` when the server
refused it, and its slot goes on. A GOAWAY is counted as `goaway` for each stream it cut off,
and the session is closed and made again. A time-out or a frame that cannot be read closes the
whole session, as it closes an HTTP/1.1 connection, and its other streams count as `reset`.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from time import perf_counter_ns

from hpack import HPACKError

from loadgen.engine import h2frames as f
from loadgen.engine.connection import Connection, Owner
from loadgen.engine.recording import Recorder
from loadgen.workloads.checks import Expectation

_FRAME = struct.Struct(">BHBBI")  # length (as 8 + 16 bits), type, flags, stream id
_STREAM_BIT = 0x7FFFFFFF
# Received DATA is handed back to the connection's window once this much has come in.
REFILL_AT = f.MAX_WINDOW // 2


class H2Stream(Connection):
    """One stream slot of a session, as the worker sees a connection: one request at a time,
    open loop (each completion goes back to the worker's schedule)."""

    __slots__ = ("capture", "sending", "session", "status")

    def __init__(self, owner: Owner, session: H2Session) -> None:
        super().__init__(owner)
        self.session = session
        self.capture = False  # a sampled response: keep its body for the check
        self.status = 0
        self.sending = 0  # its stream's id while its request is out; 0 between requests

    def send(self, rec: Recorder, data: bytes, intended: int, now: int,
             expect: Expectation | None) -> None:
        self.rec = rec
        self.expect = expect
        self.capture = expect is not None
        self.intended = intended
        self.sent = now
        self.session.open_stream(self, data)

    def restore_parser(self) -> None:
        self.capture = False

    def on_response(self, now: int) -> None:
        """The response is complete: the figures, then the next request."""
        rec = self.rec
        if rec is None:
            return
        rec.service.append((now - self.sent) // 1000)
        rec.lag.append((self.sent - self.intended) // 1000)
        self._complete(rec, now)
        self.owner.on_free(self, now)

    def _complete(self, rec: Recorder, now: int) -> None:
        rec.status.append(self.status)
        self.failures = 0
        if self.expect is not None:
            self.owner.check(self, rec, self.status)
        self.rec = None


class ClosedLoopH2Stream(H2Stream):
    """A stream slot in a closed-loop run: it sends its next request itself."""

    __slots__ = ()

    def on_response(self, now: int) -> None:
        rec = self.rec
        if rec is None:
            return
        rec.service.append((now - self.sent) // 1000)
        self._complete(rec, now)
        owner = self.owner
        if now < owner.end_ns:
            data, self.rec, self.expect = owner.next_request()
            self.capture = self.expect is not None
            self.sent = self.intended = now
            self.session.open_stream(self, data)
        else:
            owner.on_free(self, now)


class H2Session(asyncio.Protocol):
    """One HTTP/2 connection and its stream slots."""

    def __init__(self, owner: Owner, streams: int, scheme: str, closed_loop: bool,
                 requests: dict[bytes, f.H2Request]) -> None:
        self.owner = owner
        kind = ClosedLoopH2Stream if closed_loop else H2Stream
        self.slots = [kind(owner, self) for _ in range(streams)]
        self.scheme = scheme
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] | None = None  # done once the server's SETTINGS came
        self.dialing: asyncio.Task[None] | None = None  # the connect under way (dial.Dialer)
        self.requests = requests  # per template's bytes, its frames: shared by the sessions
        self._blocked = 0
        self._reset()

    def _reset(self) -> None:
        self.open: dict[int, H2Stream] = {}
        self.next_id = 1
        self.buffer = b""
        self.out: list[bytes] | None = None  # writes gathered while a read is handled
        self.window = f.DEFAULT_WINDOW  # ours to send in, on the connection
        self.stream_window = f.DEFAULT_WINDOW  # the server's initial window for each stream
        self.max_frame = f.DEFAULT_MAX_FRAME
        self.waiting: deque[tuple[H2Stream, int, memoryview]] = deque()  # bodies held back
        self.windows: dict[int, int] = {}  # per stream with a body still to send
        self.received = 0
        self.headers: dict[int, bytes] = {}  # header blocks that go on in CONTINUATION frames
        self.decoder = f.stateless_decoder()

    # -- the connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._reset()
        self.ready = asyncio.get_running_loop().create_future()
        transport.write(f.client_start(len(self.slots)))  # type: ignore[attr-defined]
        for slot in self.slots:
            slot.transport = self.transport
            slot.failures += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.ready is not None and not self.ready.done():
            self.ready.set_result(None)  # the dialer sees the transport gone
        for slot in self.slots:
            slot.transport = None
            slot.sending = 0
            self.owner.on_lost(slot)

    def pause_writing(self) -> None:
        self._blocked = perf_counter_ns()
        self.owner.on_write_blocked(self._blocked)

    def resume_writing(self) -> None:
        self.owner.on_write_resumed(self._blocked, perf_counter_ns())

    def _write(self, data: bytes) -> None:
        if self.out is not None:
            self.out.append(data)
        elif self.transport is not None:
            self.transport.write(data)

    # -- requests ---------------------------------------------------------------------------

    def open_stream(self, slot: H2Stream, data: bytes) -> None:
        """Send the request pre-encoded as `data` on a new stream for `slot`."""
        request = self.requests.get(data)
        if request is None:
            request = self.requests[data] = f.from_http1(data, self.scheme, self.max_frame)
        stream = self.next_id
        if stream > f.MAX_STREAM_ID or self.transport is None:  # ids used up: a new session
            if self.transport is not None:
                self.transport.close()
            return
        self.next_id += 2
        slot.sending = stream
        slot.status = 0
        self.open[stream] = slot
        self._write(request.headers(stream))
        if request.body:
            self.windows[stream] = self.stream_window
            self.waiting.append((slot, stream, memoryview(request.body)))
            self._send_bodies()

    def _send_bodies(self) -> None:
        """Send what the windows allow of the bodies waiting, in order."""
        while self.waiting and self.window > 0:
            slot, stream, rest = self.waiting[0]
            if slot.sending != stream:  # its stream ended (reset) while its body waited
                self.waiting.popleft()
                self.windows.pop(stream, None)
                continue
            allowed = min(self.window, self.windows[stream], self.max_frame, len(rest))
            if allowed <= 0 and rest:
                return
            last = allowed == len(rest)
            self._write(f.frame(f.DATA, f.END_STREAM if last else 0, stream,
                                bytes(rest[:allowed])))
            self.window -= allowed
            self.windows[stream] -= allowed
            if last:
                self.waiting.popleft()
                del self.windows[stream]
            else:
                self.waiting[0] = (slot, stream, rest[allowed:])

    # -- responses ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        self.out = []
        at, size = 0, len(buffer)
        try:
            while size - at >= 9:
                high, low, kind, flags, stream = _FRAME.unpack_from(buffer, at)
                end = at + 9 + (high << 16 | low)
                if end > size:
                    break
                self._frame(kind, flags, stream & _STREAM_BIT, buffer, at + 9, end)
                at = end
        except (ValueError, IndexError, KeyError, HPACKError):  # frames that cannot be read
            self.buffer = b""
            self.out = None
            self._fail("parse")
            return
        self.buffer = buffer[at:]
        out, self.out = self.out, None
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def _frame(self, kind: int, flags: int, stream: int, buffer: bytes, start: int,
               end: int) -> None:
        if kind == f.DATA:
            self.received += end - start
            slot = self.open.get(stream)
            if slot is not None:
                if slot.capture:
                    slot.body.append(_unpadded(buffer, start, end, flags))
                if flags & f.END_STREAM:
                    self._done(stream, slot)
            if self.received >= REFILL_AT:
                self._write(f.frame(f.WINDOW_UPDATE, 0, 0, self.received.to_bytes(4, "big")))
                self.received = 0
        elif kind == f.HEADERS:
            if flags & f.PADDED:
                start, end = start + 1, end - buffer[start]
            if flags & f.PRIORITY:
                start += 5
            self._headers(stream, flags, buffer[start:end])
        elif kind == f.CONTINUATION:
            self._headers(stream, flags, buffer[start:end], continued=True)
        elif kind == f.SETTINGS:
            if not flags & f.ACK:
                self._settings(buffer[start:end])
        elif kind == f.WINDOW_UPDATE:
            increment = int.from_bytes(buffer[start:end], "big") & _STREAM_BIT
            if stream == 0:
                self.window += increment
            elif stream in self.windows:
                self.windows[stream] += increment
            self._send_bodies()
        elif kind == f.RST_STREAM:
            slot = self.open.pop(stream, None)
            if slot is not None:
                code = int.from_bytes(buffer[start:end], "big")
                slot.sending = 0
                self.owner.fail(slot, "refused_stream" if code == f.REFUSED_STREAM
                                else "rst_stream", drop=False)
        elif kind == f.PING:
            if not flags & f.ACK:
                self._write(f.frame(f.PING, f.ACK, 0, buffer[start:end]))
        elif kind == f.GOAWAY:
            last = int.from_bytes(buffer[start:start + 4], "big") & _STREAM_BIT
            for cut in [s for s in self.open if s > last]:
                slot = self.open.pop(cut)
                slot.sending = 0
                self.owner.fail(slot, "goaway")

    def _headers(self, stream: int, flags: int, block: bytes, continued: bool = False) -> None:
        if continued or not flags & f.END_HEADERS:
            block = self.headers.pop(stream, b"") + block
            if not flags & f.END_HEADERS:
                self.headers[stream] = block
                return
        slot = self.open.get(stream)
        if slot is None:
            return
        status = f.status_of(block, self.decoder)
        if status >= 200 or slot.status:  # a final status, or trailers after it
            slot.status = slot.status or status
            if flags & f.END_STREAM:
                self._done(stream, slot)

    def _settings(self, payload: bytes) -> None:
        given = f.settings(payload)
        if f.INITIAL_WINDOW_SIZE in given:
            change = given[f.INITIAL_WINDOW_SIZE] - self.stream_window
            self.stream_window = given[f.INITIAL_WINDOW_SIZE]
            for stream in self.windows:
                self.windows[stream] += change
        self.max_frame = given.get(f.MAX_FRAME_SIZE, self.max_frame)
        self._write(f.frame(f.SETTINGS, f.ACK, 0))
        if self.ready is not None and not self.ready.done():
            self.ready.set_result(None)
        self._send_bodies()

    def _done(self, stream: int, slot: H2Stream) -> None:
        del self.open[stream]
        slot.sending = 0
        slot.on_response(perf_counter_ns())

    def _fail(self, kind: str) -> None:
        slot = next(iter(self.open.values()), None)
        if slot is not None:
            self.owner.fail(slot, kind)  # counts it and closes the session
        elif self.transport is not None:
            self.transport.abort()


def _unpadded(buffer: bytes, start: int, end: int, flags: int) -> bytes:
    if flags & f.PADDED:
        return buffer[start + 1:end - buffer[start]]
    return buffer[start:end]
