"""FastAPI app factory, websockets and REST routes: where the rooms are wired together."""

from attune.api.app import create_app

__all__ = ["create_app"]
