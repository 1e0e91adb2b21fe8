"""One measurement: the engine's workers run here, in pinned processes or on a cluster, beside
a server started for the trial, and merged into one result; or the app called in process. The
executors put each way of measuring a trial behind one small protocol.

May import: loadgen.workloads, loadgen.results, loadgen.engine,
loadgen.servers, loadgen.inproc.
"""
