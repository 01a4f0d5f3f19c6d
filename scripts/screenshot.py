"""Render a PNG of each dashboard view into docs/ (referenced from the README).

A loopback service with a running session and two simulated straps streams a few minutes of
session time faster than real time; the pacer is set through the REST API; then Chromium
renders the therapist console, the client's calm-meter (light, and dark on a phone), the
replay and the sign-in page.

uv run python scripts/screenshot.py [--session-min 5] [--speed 6]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
from pathlib import Path

from playwright.async_api import Browser, async_playwright

from attune.settings import Settings
from attune.testing.chromium import CHROMIUM_ARGS, find_chromium
from attune.testing.clock import ScaledClock
from attune.testing.dashboard import DashboardRig

DOCS = Path(__file__).resolve().parents[1] / "docs"


async def shoot(browser: Browser, rig: DashboardRig) -> None:
    console = await browser.new_context(viewport={"width": 1400, "height": 1150})
    await console.add_cookies(rig.cookies())  # type: ignore[arg-type]
    page = await console.new_page()
    await page.goto(rig.console_url)
    await page.wait_for_function("() => window.attune.state.participants.size >= 2")
    await page.select_option("#pacer-rate", "6")
    await page.click("#pacer-form button[type=submit]")
    await page.wait_for_timeout(4000)
    await page.screenshot(path=str(DOCS / "console.png"), full_page=True)

    for name, options in (
        ("client.png", {"viewport": {"width": 1000, "height": 700}, "color_scheme": "light"}),
        ("client-dark.png", {"viewport": {"width": 390, "height": 780}, "color_scheme": "dark"}),
    ):
        client = await browser.new_page(**options)  # type: ignore[arg-type]
        await client.goto(rig.client_url)
        await client.wait_for_function("() => window.attune.shown.phase !== null")
        await client.wait_for_timeout(1500)
        await client.screenshot(path=str(DOCS / name))

    replay = await console.new_page()
    await replay.goto(rig.replay_url)
    await replay.wait_for_function("() => window.attune.player.durationS > 60")
    await replay.select_option("#speed", "16")
    await replay.fill("#scrub", "200")
    await replay.dispatch_event("#scrub", "change")
    await replay.click("#play")
    await replay.wait_for_timeout(6000)
    await replay.click("#play")
    await replay.wait_for_timeout(500)
    await replay.screenshot(path=str(DOCS / "replay.png"), full_page=True)

    login = await browser.new_page(viewport={"width": 800, "height": 520})
    await login.goto(f"{rig.base_url}/login.html")
    await login.screenshot(path=str(DOCS / "login.png"))


async def main(session_min: float, speed: float) -> None:
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found: install Debian's chromium or set ATTUNE_CHROMIUM")
    with tempfile.TemporaryDirectory() as data_dir:
        key = secrets.token_urlsafe(32)
        settings = Settings(data_dir=Path(data_dir), secret_key=key, port=0)
        rig = DashboardRig(settings, clock=ScaledClock(speed))
        await rig.start()
        try:
            await rig.clock.sleep(session_min * 60.0)
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=str(chromium), args=list(CHROMIUM_ARGS)
                )
                await shoot(browser, rig)
                await browser.close()
        finally:
            await rig.stop()
    for name in ("console.png", "client.png", "client-dark.png", "replay.png", "login.png"):
        print(f"wrote {DOCS / name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--session-min", type=float, default=5.0, help="session time first")
    parser.add_argument("--speed", type=float, default=6.0, help="x real time")
    args = parser.parse_args()
    asyncio.run(main(args.session_min, args.speed))
