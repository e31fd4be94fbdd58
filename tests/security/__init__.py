"""Security probes: hostile images, sandbox escapes, server-side requests, limits."""
