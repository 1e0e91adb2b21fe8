"""What a run sends: scenarios, the load profile, requests pre-encoded as bytes, and the checks
of a correct answer. The first stage of the pipeline: it knows nothing of how the load is sent.

May import: only the core modules.
"""
