"""Judging stored results: comparisons with confidence intervals and verdicts, change points in
a series. Pure functions of results; nothing here measures.

May import: loadgen.workloads, loadgen.results.
"""
