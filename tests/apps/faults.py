"""A server that misbehaves one way, for the fault tests: python faults.py MODE.

It listens on a free port of 127.0.0.1, prints that port, and serves every connection in the
MODE's one wrong way until killed:
  silent   reads the requests and never answers
  garbage  answers each request with bytes that are not HTTP
  short    promises 100 bytes of body, sends 3 and closes
  chunked  answers with a chunked body that never ends
  close    closes every connection as soon as it is made
"""

from __future__ import annotations

import asyncio
import sys

CHUNK_EVERY_S = 0.01


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(65536):
        pass


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(65536):
        writer.write(b"SPAM SPAM SPAM\r\n\r\n")


async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await reader.read(65536):
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc")
        await writer.drain()
    writer.close()


async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if not await reader.read(65536):
        return
    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    while not writer.is_closing():
        writer.write(b"1\r\na\r\n")
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(CHUNK_EVERY_S)


async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


MODES = {"silent": silent, "garbage": garbage, "short": short, "chunked": chunked,
         "close": close}


async def main(mode: str) -> None:
    server = await asyncio.start_server(MODES[mode], "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
