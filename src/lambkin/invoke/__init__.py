"""Data plane: sync invoke, the async event queue, concurrency accounting and throttling."""
