"""The collector's I/O: the uplink to the service (with its outbox)."""
