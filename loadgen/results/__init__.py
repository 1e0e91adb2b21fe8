"""The result model and where it is kept: HDR histograms, a run's merged result and its
generator self-check, the stored records (a trial, its cell and machine, its result, a
history's files) with their schema version, the metrics each read one way, the results store,
writing files whole. Every stage after the engine reads results through this package; it runs
nothing.

May import: loadgen.workloads.
"""
