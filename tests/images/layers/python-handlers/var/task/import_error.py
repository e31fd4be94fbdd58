"""A handler module that fails to import: the runtime reports Runtime.ImportModuleError at init."""

from typing import Any

import lambkin_no_such_module  # noqa: F401  # the failure under test


def handler(event: Any, context: Any) -> Any:
    return event
