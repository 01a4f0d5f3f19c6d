"""Wire protocol v1: pydantic models validated at the edge (docs/protocol.md)."""

PROTOCOL_VERSION = 1
