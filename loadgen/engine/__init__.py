"""The load itself: one process's share of the connections and the schedule, on one event loop.
Connections, flows, intended send times, the precise timer, recording, pauses of the machine.

May import: loadgen.workloads, loadgen.results.
"""
