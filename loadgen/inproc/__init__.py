"""The framework's own cost with no server: a scenario's requests called straight into the app,
timed or counted under callgrind, in the target's environment.

May import: loadgen.workloads, loadgen.results, loadgen.servers.
"""
