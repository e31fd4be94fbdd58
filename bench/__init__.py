"""Benchmarks: each module runs one hot path beside its anchor and prints the ratio."""
