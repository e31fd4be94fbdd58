"""Receipt handles: opaque to clients, naming the queue, the message and which delivery of it."""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from lambkin import ids
from lambkin.queues.errors import ReceiptHandleIsInvalid

_PREFIX = "LK1"
# URL-safe base64 (what base64.urlsafe_b64encode/decode do, without their layers of calls: one per handle)
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


@dataclass(slots=True)
class Receipt:
    queue: str
    message_id: str
    token: str

    def encode(self) -> str:
        raw = f"{_PREFIX} {self.queue} {self.message_id} {self.token}".encode()
        return binascii.b2a_base64(raw, newline=False).translate(_TO_URLSAFE).decode()


def new_token() -> str:
    """Tells deliveries of one message apart. Whoever could guess one may receive the message anyway."""
    return ids.hex_token(8)


def decode(handle: str, queue: str) -> Receipt:
    """The receipt a handle names; ReceiptHandleIsInvalid if it is not ours or belongs to another queue."""
    try:
        raw = binascii.a2b_base64(handle.encode().translate(_FROM_URLSAFE))
        prefix, name, message_id, token = raw.decode().split(" ")
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise ReceiptHandleIsInvalid(
            f'The input receipt handle "{handle}" is not a valid receipt handle.'
        ) from exc
    if prefix != _PREFIX or name != queue:
        raise ReceiptHandleIsInvalid(f'The input receipt handle "{handle}" is not a valid receipt handle.')
    return Receipt(name, message_id, token)
