"""The demo end to end: real subprocess, real uvicorn, simulated straps through the ingest
websocket, and the therapist console in Chromium."""

from __future__ import annotations

import pytest

from attune.testing.demo_process import DemoProcess

pytestmark = pytest.mark.browser

READ_HR = """() => [...document.querySelectorAll('[data-participant]')].map(card => ({
    role: card.dataset.role,
    hr: card.querySelector('[data-metric=hr]').textContent,
    rmssd: card.querySelector('[data-metric=rmssd]').textContent,
}))"""


async def test_both_participants_hr_and_rmssd_appear_and_change(browser, tmp_path) -> None:
    with DemoProcess(tmp_path) as demo:
        assert demo.links is not None
        page = await browser.new_page()
        await page.goto(demo.links["therapist console"])
        # Both participants show a number for HR and RMSSD within 15 s of opening the page.
        await page.wait_for_function(
            f"""() => {{
                const cards = ({READ_HR})();
                const numeric = (text) => /^\\d+$/.test(text);
                return cards.length === 2 && cards.every(c => numeric(c.hr) && numeric(c.rmssd));
            }}""",
            timeout=15_000,
        )
        first = await page.evaluate(READ_HR)
        assert sorted(c["role"] for c in first) == ["client", "therapist"]
        # ...and keep changing: every participant's HR takes another value within 15 s.
        await page.wait_for_function(
            f"""(first) => {{
                const now = ({READ_HR})();
                return now.every(c => first.some(f => f.role === c.role && f.hr !== c.hr));
            }}""",
            arg=first,
            timeout=15_000,
        )
        await page.close()
        assert demo.stop() == 0  # Ctrl-C stops the demo cleanly
