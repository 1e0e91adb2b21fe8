"""The load itself: one process's share of the connections and the schedule, on one event loop.
Connections (HTTP/1.1, or HTTP/2 sessions and their streams), how they are dialled (TCP, TLS,
a Unix socket), flows, intended send times, the precise timer, recording, pauses of the machine.

May import: loadgen.workloads, loadgen.results.
"""
