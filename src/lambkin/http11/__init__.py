"""HTTP/1.1 server connections, shared by the front door and the Runtime API: the bottom floor, like ids."""
