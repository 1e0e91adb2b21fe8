"""The servers under load: launchers for each ASGI server as a real process, the per-version
environments, core pinning, resource sampling and py-spy profiling.

May import: loadgen.workloads, loadgen.results.
"""
