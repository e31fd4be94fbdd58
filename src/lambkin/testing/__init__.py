"""Fakes of the narrow interfaces (Sandbox, ImageStore, Store, Clock) for unit tests."""
