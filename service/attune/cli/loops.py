"""Which event loop the service and its load generators run on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (not on Windows): its transports and callbacks cost
    less than asyncio's per websocket frame (``attune bench load``, docs/capacity-log.md);
    None keeps asyncio's default loop."""
    try:
        import uvloop  # noqa: PLC0415 - optional: absent on Windows
    except ImportError:
        return None
    return uvloop.new_event_loop
