"""The parts an app is built from, kept on ``app.state`` and reached through ``services()``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from attune.api.runtime import SessionRuntimes
from attune.api.tokens import ViewTokens
from attune.hub.memory import MemoryHub
from attune.settings import Settings
from attune.store.recording import Recording

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    recording: Recording
    hub: MemoryHub
    runtimes: SessionRuntimes
    view_tokens: ViewTokens
    clock: Clock


def services(connection: HTTPConnection) -> Services:
    """The app's services, for a request or a websocket."""
    found: Services = connection.app.state.services
    return found
