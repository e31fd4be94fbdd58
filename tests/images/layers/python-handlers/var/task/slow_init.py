"""A handler whose module takes $SLOW_INIT_SECONDS (default 5) to import, then echoes its event."""

import os
import time
from typing import Any

INIT_SECONDS = float(os.environ.get("SLOW_INIT_SECONDS", "5"))
time.sleep(INIT_SECONDS)


def handler(event: Any, context: Any) -> Any:
    return {"init_seconds": INIT_SECONDS, "event": event}
