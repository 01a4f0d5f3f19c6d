"""Service settings, read from ``ATTUNE_*`` environment variables and built once per app.

Settings are passed explicitly into ``create_app`` (never imported as a global), so tests
build their own.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/attune``, else ``~/.local/share/attune``, else ``./attune-data``."""
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg) / "attune"
    home = Path.home()
    if home.is_dir():
        return home / ".local" / "share" / "attune"
    return Path("attune-data")


def default_dashboard_dir() -> Path:
    """The dashboard shipped in the wheel, or the repository's ``dashboard/`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_dashboard", here.parents[1] / "dashboard"):
        if candidate.is_dir():
            return candidate
    return here.parents[1] / "dashboard"


class Settings(BaseSettings):
    """Everything the service needs to start."""

    model_config = SettingsConfigDict(env_prefix="ATTUNE_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    # PostgreSQL only: the schema holding Attune's tables (created if missing).
    database_schema: str | None = None
    secret_key: SecretStr | None = None
    dashboard_dir: Path = Field(default_factory=default_dashboard_dir)
    live_buffer_messages: int = Field(default=5000, ge=100)
    subscriber_queue_messages: int = Field(default=1000, ge=10)
    # Login cookies get Secure when the request came over https (uvicorn's proxy headers
    # tell us behind a TLS proxy); True or False forces it.
    cookie_secure: bool | None = None
    forwarded_allow_ips: str = "127.0.0.1"
    # Pages on these origins may also open websockets and write (besides the service's own).
    allowed_origins: tuple[str, ...] = ()
    login_ttl_s: float = Field(default=12 * 3600, gt=0)
    client_link_ttl_s: float = Field(default=12 * 3600, gt=0)
    reviewer_link_ttl_s: float = Field(default=7 * 24 * 3600, gt=0)
    # Collector data stamped later than this after a session's end is refused: a strap left
    # running must not keep recording (data from before the end is still taken).
    session_end_grace_s: float = Field(default=60.0, ge=0)
    # Scale-out (docs/deployment.md): with a Redis URL, live fan-out goes through Redis
    # Streams and each session is computed by the instance holding its lease.
    redis_url: str | None = None
    redis_prefix: str = "attune:"
    instance_id: str | None = None  # default: host, process id and a random suffix
    lease_ttl_s: float = Field(default=10.0, ge=1.0)
    # An owner gives a session back after this long without input (or a marker).
    lease_idle_s: float = Field(default=60.0, ge=1.0)
    live_stream_ttl_s: float = Field(default=3600.0, ge=60.0)
    # Publish live sessions to Lab Streaming Layer (`attune serve --lsl`; docs/exports.md).
    lsl: bool = False
    # The clinic's cue settings (TOML, docs/coregulation.md), over the shipped defaults.
    cues_file: Path | None = None
    # The serving process runs a full cycle collection this often instead of whenever
    # CPython's rule says (attune.cli.gc_policy); 0 keeps CPython's defaults.
    gc_full_every_s: float = Field(default=600.0, ge=0)
    # ... and a young cycle collection this often, so none walks more than that brought
    # (attune.cli.gc_policy); 0 leaves young collections to CPython's rule alone.
    gc_young_every_s: float = Field(default=0.1, ge=0)

    def resolved_secret_key(self) -> str:
        """The configured key, or one kept in ``data_dir/secret.key`` so links survive restarts."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def resolved_instance_id(self) -> str:
        """This process's name in leases: unique per process, so a restart is a new owner."""
        return self.instance_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite database under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'attune.sqlite3'}"
