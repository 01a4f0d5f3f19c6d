"""Live fan-out: bounded per-subscriber queues and a resume buffer per session."""

from attune.hub.memory import LiveItem, MemoryHub, Subscription

__all__ = ["LiveItem", "MemoryHub", "Subscription"]
