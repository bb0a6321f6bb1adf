"""`make chaos`: faults injected into the local cluster under a mixed load
(deploy/local/chaos/run.py)."""
