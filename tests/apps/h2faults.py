"""An HTTP/2 server (cleartext, prior knowledge) that misbehaves one way, for the HTTP/2 fault
tests: python h2faults.py MODE. Built on the h2 package's state machine, so every frame it sends
is well formed. It listens on a free port of 127.0.0.1, prints that port, and serves every
connection in MODE's way until killed:
  rst      resets every stream (INTERNAL_ERROR)
  refuse   refuses every stream (REFUSED_STREAM)
  goaway   answers each connection's first request, then sends GOAWAY naming that stream as
           the last it will answer, and closes
"""

from __future__ import annotations

import asyncio
import sys

import h2.config
import h2.connection
import h2.errors
import h2.events


class Faulty(asyncio.Protocol):
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.transport: asyncio.Transport | None = None
        self.answered = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.h2.initiate_connection()
        self.transport.write(self.h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.request(event.stream_id)
        self.transport.write(self.h2.data_to_send())

    def request(self, stream: int) -> None:
        if self.mode == "rst":
            self.h2.reset_stream(stream, h2.errors.ErrorCodes.INTERNAL_ERROR)
        elif self.mode == "refuse":
            self.h2.reset_stream(stream, h2.errors.ErrorCodes.REFUSED_STREAM)
        elif self.answered:  # goaway: one answer a connection, then the end
            return
        else:
            self.answered = stream
            self.h2.send_headers(stream, [(":status", "200"), ("content-length", "2")])
            self.h2.send_data(stream, b"ok", end_stream=True)
            self.h2.close_connection(last_stream_id=stream)
            assert self.transport is not None
            self.transport.write(self.h2.data_to_send())
            self.transport.close()


async def main(mode: str) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Faulty(mode), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
