"""The session report in real Chromium, served by the real service for a session recorded
through the ingest websocket: its plots are drawn and sized, its stylesheet applies under its
own Content-Security-Policy, nothing else is requested, and it prints."""

from __future__ import annotations

import re

import pytest

from attune.api.auth import COOKIE_NAME
from tests.export.test_api import recorded

pytestmark = pytest.mark.browser

PLOTS = """() => [...document.querySelectorAll('svg[data-plot]')].map(svg => {
    const box = svg.getBoundingClientRect();
    const paths = [...svg.querySelectorAll('path')];
    return {
        name: svg.dataset.plot,
        width: box.width,
        height: box.height,
        lengths: paths.map(p => p.getTotalLength()),
        segments: paths.map(p => (p.getAttribute('d').match(/[ML]/g) || []).length),
        stroke: paths.map(p => getComputedStyle(p).stroke),
    };
})"""


async def test_the_report_renders_its_plots_and_requests_nothing_else(service, browser) -> None:
    session, _ = await recorded(service)
    url = f"{service.base_url}/api/sessions/{session.id}/exports/report.html"
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    await context.add_cookies(
        [{"name": COOKIE_NAME, "value": session.therapist.cookie, "url": service.base_url}]
    )
    page = await context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: m.type in {"error", "warning"} and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = await page.goto(url)
    assert response is not None
    assert response.status == 200
    await page.wait_for_load_state("load")
    plots = await page.evaluate(PLOTS)
    names = [p["name"] for p in plots]
    assert names == ["tachogram-therapist", "tachogram-client", "calm", "synchrony", "timeline"]
    for plot in plots:
        assert plot["width"] > 800, plot["name"]  # scaled to the page, not collapsed
        assert plot["height"] > 80, plot["name"]
    data = {p["name"]: p for p in plots if p["lengths"]}
    for name in ("tachogram-therapist", "tachogram-client", "calm", "synchrony"):
        assert data[name]["lengths"][0] > 200, name  # a drawn line, not an empty path
        assert data[name]["segments"][0] > 20, name
        assert data[name]["stroke"][0] not in {"none", ""}, name  # the stylesheet applied
    title = await page.title()
    assert title == "Session report · Test session"
    assert requests == [url]
    assert problems == []
    await page.emulate_media(media="print")
    printed = await page.evaluate(PLOTS)
    assert all(p["width"] > 300 and p["height"] > 40 for p in printed)
    pdf = await page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2
    # Shown under a policy that allows no styles (a copy opened from another page's blob:
    # URL inherits its policy): the plots keep their colours and size.
    body = await response.body()
    strict = await context.new_page()
    await strict.route(
        "http://report.test/",
        lambda route: route.fulfill(
            body=body,
            content_type="text/html",
            headers={"Content-Security-Policy": "default-src 'self'"},
        ),
    )
    await strict.goto("http://report.test/")
    bare = await strict.evaluate(PLOTS)
    assert [p["name"] for p in bare] == names
    assert all(p["width"] > 800 for p in bare)
    assert all(stroke not in {"none", ""} for p in bare for stroke in p["stroke"])
    await context.close()
