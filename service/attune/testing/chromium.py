"""Finding and launching Debian's Chromium for Playwright (its own browser download is not
available on offline CI machines; see docs/testing.md)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Without the background-networking flags Chromium keeps dialling Google services, which a
# closed network refuses; --no-sandbox is needed when running as root in a container.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def find_chromium() -> Path | None:
    """``$ATTUNE_CHROMIUM``, else chromium or chromium-browser on PATH, else None."""
    configured = os.environ.get("ATTUNE_CHROMIUM")
    if configured:
        return Path(configured)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None
