"""The parts an app is built from, kept on ``app.state`` and reached through ``services()``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, WebSocket
from starlette.requests import HTTPConnection

from attune.api.passwords import Passwords
from attune.api.runtime import SessionRuntimes
from attune.api.sockets import Viewers
from attune.api.tokens import Tokens
from attune.hub import Hub
from attune.settings import Settings
from attune.store import Store

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    hub: Hub
    runtimes: SessionRuntimes
    tokens: Tokens
    passwords: Passwords
    clock: Clock
    # The open ingest socket of each participant: a newer connection replaces an older one.
    ingest_sockets: dict[str, WebSocket] = field(default_factory=dict)
    viewers: Viewers = field(default_factory=Viewers)


def services(connection: HTTPConnection) -> Services:
    """The app's services, for a request or a websocket."""
    found: Services = connection.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]
