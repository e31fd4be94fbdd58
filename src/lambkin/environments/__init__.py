"""Execution environments: per-version pools, the lifecycle state machine, the Runtime API server."""
