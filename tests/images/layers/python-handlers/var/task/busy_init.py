"""A handler whose module burns $BUSY_INIT_SECONDS (default 2) of CPU time at import, then echoes its event.

CPU time, not wall time: the more the host's cores are shared, the longer its init takes (a heavy import,
such as scikit-learn's, behaves so).
"""

import os
import time
from typing import Any

INIT_CPU_SECONDS = float(os.environ.get("BUSY_INIT_SECONDS", "2"))
_spent = time.process_time()
while time.process_time() - _spent < INIT_CPU_SECONDS:
    sum(range(10_000))


def handler(event: Any, context: Any) -> Any:
    return {"init_cpu_seconds": INIT_CPU_SECONDS, "event": event}
