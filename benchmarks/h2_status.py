"""How a response's status is read over HTTP/2: loadgen's fast path (the first byte of the
header block, the server's header table held at 0 bytes) against hpack's decoder reading the
whole block, on the header block of a small response. Both in
one run, in turns; prints the µs per block of each and their ratio."""

from __future__ import annotations

import statistics
import timeit

from hpack import Encoder

from loadgen.engine import h2frames

# A small response as servers send one: a status, its type and length, a date and a name.
HEADERS = [(":status", "200"), ("content-type", "text/plain"), ("content-length", "13"),
           ("date", "Tue, 01 Dec 2026 21:00:00 GMT"), ("server", "hypercorn-h2")]
ROUNDS = 5
CALLS = 20_000


def main() -> None:
    encoder = Encoder()
    encoder.header_table_size = 0  # as the client's settings ask
    encoder.encode(HEADERS)  # the first block carries the size update; later ones do not
    block = encoder.encode(HEADERS)
    fast, full = h2frames.stateless_decoder(), h2frames.stateless_decoder()
    ratios = []
    for n in range(1, ROUNDS + 1):
        ours = timeit.timeit(lambda: h2frames.status_of(block, fast), number=CALLS) / CALLS
        theirs = timeit.timeit(lambda: full.decode(block, raw=True), number=CALLS) / CALLS
        ratios.append(theirs / ours)
        print(f"round {n}: fast path {ours * 1e6:.3f} µs, hpack {theirs * 1e6:.3f} µs a block, "
              f"hpack/fast {ratios[-1]:.1f}")
    print(f"median: hpack takes {statistics.median(ratios):.1f}x the fast path's time")


if __name__ == "__main__":
    main()
