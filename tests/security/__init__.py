"""Probes of lambkin as an attacker or a careless user would try it: each a test that failed before its fix."""
