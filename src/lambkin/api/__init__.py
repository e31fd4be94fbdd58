"""The HTTP faces: one ASGI app per surface, thin: parse, call a service, render."""
