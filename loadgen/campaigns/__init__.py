"""Measurements planned, run and judged: the bench matrix in interleaved rounds, a history over
commits or versions, a bisection, the nightly job.

May import: loadgen.workloads, loadgen.results, loadgen.engine,
loadgen.servers, loadgen.inproc, loadgen.measure, loadgen.analysis, loadgen.present.
"""
