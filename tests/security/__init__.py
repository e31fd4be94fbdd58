"""Probes of lambkin as an attacker or a careless user would try it (hostile images, sandbox escapes, bad
input, limits): each a test that failed before its fix."""
