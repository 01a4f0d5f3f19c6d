"""Render PNGs of the dashboard views from a running demo into docs/ (for the README).

uv run python scripts/screenshot.py [--wait 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from attune.testing.chromium import CHROMIUM_ARGS, find_chromium
from attune.testing.demo_process import DemoProcess

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wait", type=float, default=40.0, help="seconds of data before the shot")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found: install Debian's chromium or set ATTUNE_CHROMIUM")
    with tempfile.TemporaryDirectory() as data_dir, DemoProcess(Path(data_dir)) as demo:
        assert demo.links is not None
        time.sleep(args.wait)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS))
            page = browser.new_page(viewport={"width": 1100, "height": 520})
            page.goto(demo.links["therapist console"])
            page.wait_for_function("window.attune && window.attune.state.participants.size >= 2")
            page.wait_for_timeout(1500)
            out = DOCS / "therapist.png"
            page.screenshot(path=str(out))
            print(f"wrote {out}")
            browser.close()


if __name__ == "__main__":
    main()
