"""The dashboard's three views in real Chromium against a real service on loopback, with
simulated straps streaming through the real ingest websocket (attune.testing.dashboard)."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Browser, Page, Route

from attune.testing.dashboard import PASSWORD, USERNAME, DashboardRig

pytestmark = pytest.mark.browser

CARDS = """() => [...document.querySelectorAll('[data-participant]')].map(card => ({
    role: card.dataset.role,
    hr: card.querySelector('[data-metric=hr]').textContent,
    points: Number(card.querySelector('.tachogram').dataset.points || 0),
}))"""
BOTH_LIVE = f"""() => {{
    const cards = ({CARDS})();
    return cards.length === 2 && cards.every(c => /^\\d+$/.test(c.hr) && c.points >= 5);
}}"""


async def signed_in_console(browser: Browser, rig: DashboardRig) -> Page:
    context = await browser.new_context()
    await context.add_cookies(rig.cookies())  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(rig.console_url)
    await page.wait_for_function(BOTH_LIVE, timeout=30_000)
    return page


async def test_console_signs_in_renders_live_data_and_recovers_after_restart(
    browser: Browser, rig: DashboardRig
) -> None:
    page = await browser.new_page()
    await page.goto(rig.console_url)
    # Not signed in: the console sends us to the sign-in page, which brings us back.
    await page.wait_for_url("**/login.html#next=*")
    await page.fill("#username", USERNAME)
    await page.fill("#password", "wrong password")
    await page.press("#password", "Enter")
    await page.wait_for_function(
        "() => document.getElementById('login-error').textContent.length > 0"
    )
    await page.fill("#password", PASSWORD)
    await page.press("#password", "Enter")
    await page.wait_for_url("**/therapist.html#session=*")
    await page.wait_for_function(BOTH_LIVE, timeout=30_000)
    cards = await page.evaluate(CARDS)
    assert sorted(c["role"] for c in cards) == ["client", "therapist"]
    assert await page.text_content("#session-state") == "running"

    before = await page.evaluate("() => window.attune.state.lastSeq")
    beats_before = await page.evaluate(
        "() => [...window.attune.state.participants.values()].map(p => p.beats)"
    )
    await rig.restart_service(down_s=2.0)
    # The page noticed the outage, reconnected, resumed after its last seq and goes on.
    await page.wait_for_function(
        """([seq, beats]) => {
            const s = window.attune.state;
            const now = [...s.participants.values()].map(p => p.beats);
            return document.getElementById('connection').dataset.state === 'live'
                && s.lastSeq > seq + 20 && now.every((n, i) => n > beats[i] + 5);
        }""",
        arg=[before, beats_before],
        timeout=45_000,
    )
    # Resuming never applied a message twice: beats counted equal beats in the ring.
    counted = await page.evaluate(
        """() => [...window.attune.state.participants.values()].map(p =>
            [p.beats, p.tachogram.window().v.filter(v => v !== null).length])"""
    )
    for beats, drawn in counted:
        assert drawn in {beats, 1200}  # the ring holds the last 1200


async def test_client_view_never_receives_or_shows_therapist_data(
    browser: Browser, rig: DashboardRig
) -> None:
    page = await browser.new_page()
    frames: list[dict[str, object]] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda payload: frames.append(
                json.loads(payload if isinstance(payload, str) else "{}")
            ),
        ),
    )
    await page.goto(rig.client_url)
    await page.wait_for_function(
        "() => window.attune.state.participants.size === 1 && "
        "[...window.attune.state.participants.values()][0].calm !== null",
        timeout=30_000,
    )
    await page.wait_for_timeout(3000)  # a few more seconds of stream
    therapist_id = rig.participant_ids["therapist"]
    types = {str(f.get("type")) for f in frames}
    assert "calm" in types
    assert types <= {"session", "calm", "quality", "link", "pacer", "cue", "client_view"}, types
    for frame in frames:
        assert therapist_id not in json.dumps(frame)
        if frame.get("type") == "cue":
            assert frame["audience"] == "client"
    session = next(f for f in frames if f.get("type") == "session")
    assert [p["role"] for p in session["participants"]] == ["client"]  # type: ignore[index]
    text = await page.inner_text("body")
    assert "Therapist" not in text
    assert not any(ch.isdigit() for ch in text), f"numbers shown without permission: {text!r}"
    assert await page.is_visible("#meter svg")


async def test_client_view_shows_plainly_when_the_signal_is_lost(
    browser: Browser, rig: DashboardRig
) -> None:
    page = await browser.new_page()
    await page.goto(rig.client_url)
    await page.wait_for_function(
        "() => window.attune.state.participants.size === 1", timeout=30_000
    )
    assert await page.is_hidden("#signal-lost")
    await rig.service_stop()
    await page.wait_for_selector("#signal-lost", state="visible", timeout=15_000)
    assert "Reconnecting" in await page.inner_text("#signal-lost")


async def test_client_link_without_token_and_forged_token(
    browser: Browser, rig: DashboardRig
) -> None:
    page = await browser.new_page()
    await page.goto(f"{rig.base_url}/client.html#session={rig.session_id}")
    assert "link your therapist gave you" in await page.inner_text("#meter-word")
    page = await browser.new_page()
    await page.goto(f"{rig.base_url}/client.html#session={rig.session_id}&token=forged.token")
    await page.wait_for_function(
        "() => document.getElementById('signal-lost').textContent.includes('no longer works')",
        timeout=15_000,
    )
    assert await page.is_visible("#signal-lost")


async def test_one_key_marker_with_a_note(browser: Browser, rig: DashboardRig) -> None:
    page = await signed_in_console(browser, rig)
    await page.locator("body").press("m")
    assert await page.evaluate("() => document.activeElement.id") == "marker-note"
    await page.keyboard.type("client describes the argument")
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "() => window.attune.state.markers.some(m => m.text === 'client describes the argument')",
        timeout=15_000,
    )
    # The form closes when the POST returns (the live marker may come first).
    await page.wait_for_selector("#marker-form", state="hidden", timeout=15_000)
    # Escape cancels without a marker; M then Enter saves a marker without a note.
    await page.locator("body").press("m")
    await page.keyboard.press("Escape")
    await page.locator("body").press("m")
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "() => window.attune.state.markers.map(m => m.text).join('|') === "
        "'client describes the argument|marker'",
        timeout=15_000,
    )
    response = await page.request.get(f"{rig.base_url}/api/sessions/{rig.session_id}/markers")
    assert [m["text"] for m in await response.json()] == ["client describes the argument", "marker"]


async def test_a_marker_saved_again_after_an_error_is_recorded_once(
    browser: Browser, rig: DashboardRig
) -> None:
    """The first save reaches the service but its answer is lost (as when the instance asked
    gave up on the session's owner, which recorded the marker later): the therapist saves
    again, and the marker is recorded once."""
    page = await signed_in_console(browser, rig)
    markers_url = f"{rig.base_url}/api/sessions/{rig.session_id}/markers"
    keys: list[str | None] = []

    async def lose_first_answer(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        served = await route.fetch()  # recorded by the service...
        if len(keys) == 1:  # ...but the browser hears "try again"
            body = {"code": "conflict", "detail": "the owner did not answer; try again"}
            await route.fulfill(status=409, json=body)
        else:
            await route.fulfill(response=served)

    await page.route(markers_url, lose_first_answer)
    await page.locator("body").press("m")
    await page.keyboard.type("door slams")
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "() => document.getElementById('console-error').textContent.includes('try again')",
        timeout=15_000,
    )
    assert await page.is_visible("#marker-form")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#marker-form", state="hidden", timeout=15_000)
    await page.unroute(markers_url)

    assert keys[0] is not None
    assert keys == [keys[0], keys[0]]
    response = await page.request.get(markers_url)
    assert [m["text"] for m in await response.json()] == ["door slams"]


CONTRAST = """async () => {
    const { contrastRatio, parseColor } = await import('/js/contrast.js');
    const css = getComputedStyle(document.documentElement);
    const colour = (name) => {
        const probe = document.createElement('span');
        probe.style.color = css.getPropertyValue(name);
        document.body.append(probe);
        const rgb = getComputedStyle(probe).color;
        probe.remove();
        return parseColor(rgb);
    };
    const out = {};
    const texts = ['--fg', '--muted', '--accent', '--warn', '--danger', '--ok', '--therapist',
                   '--client'];
    for (const fg of texts) {
        for (const bg of ['--bg', '--card']) {
            out[`${fg} on ${bg}`] = contrastRatio(colour(fg), colour(bg));
        }
    }
    return out;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_palette_passes_wcag_aa(browser: Browser, rig: DashboardRig, scheme: str) -> None:
    page = await signed_in_console(browser, rig)
    await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    ratios = await page.evaluate(CONTRAST)
    failing = {pair: round(r, 2) for pair, r in ratios.items() if r < 4.5}
    assert not failing, f"{scheme}: {failing}"
    assert len(ratios) == 16


async def test_replay_scrub_shows_the_matching_time(browser: Browser, rig: DashboardRig) -> None:
    # Let the straps record about two minutes of session time (4x real time).
    await page_wait(rig, 125.0)
    context = await browser.new_context()
    await context.add_cookies(rig.cookies())  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(rig.replay_url)
    await page.wait_for_function("() => window.attune.player.durationS > 100", timeout=30_000)
    await page.fill("#scrub", "90")
    await page.dispatch_event("#scrub", "change")
    await page.wait_for_function(
        "() => document.getElementById('replay-clock').textContent === '1:30'", timeout=15_000
    )
    await page.click("#play")
    await page.wait_for_function(
        "() => [...window.attune.state.participants.values()].every(p => p.tachogram.length > 3)",
        timeout=30_000,
    )
    first_beats = await page.evaluate(
        "() => [...window.attune.state.participants.values()].map(p => p.tachogram.window().t[0])"
    )
    assert all(90.0 <= t < 100.0 for t in first_beats), first_beats
    clock = await page.text_content("#replay-clock")
    assert clock is not None
    assert clock.startswith("1:3")
    # Recompute with another window: the replay restarts at the position with new settings.
    await page.click("#play")  # pause
    await page.fill("#window-s", "120")
    await page.click("#analysis button[type=submit]")
    await page.wait_for_function(
        "() => window.attune.player.engine && window.attune.player.engine.window_s === 120",
        timeout=30_000,
    )
    assert "120 s" in await page.inner_text("#engine")
    links = await page.eval_on_selector_all(
        "#exports a", "as => as.map(a => a.getAttribute('href'))"
    )
    assert any(link.endswith("/exports/beats.csv") for link in links)
    response = await page.request.get(rig.base_url + links[0])
    assert response.status == 200


async def page_wait(rig: DashboardRig, session_s: float) -> None:
    """Wait until the rig's straps have streamed ``session_s`` seconds of session time."""
    await rig.clock.sleep(session_s)


SAMPLE_PACER = """async ([n, everyMs]) => {
    const out = [];
    for (let i = 0; i < n; i += 1) {
        const s = window.attune.shown;
        out.push({ wall_s: Date.now() / 1000, breath: s.breath, phase: s.phase,
                   word: document.getElementById('breath-word').textContent });
        await new Promise(r => setTimeout(r, everyMs));
    }
    return out;
}"""


@pytest.mark.parametrize("rig", [1.0], indirect=True)
async def test_pacer_phase_follows_the_set_rate(browser: Browser, rig: DashboardRig) -> None:
    console = await signed_in_console(browser, rig)
    client = await browser.new_page()
    await client.goto(rig.client_url)
    await client.wait_for_function("() => window.attune.state.participants.size === 1")
    assert await client.is_hidden("#pacer")
    # The therapist sets 6.5 breaths/min at I:E 1:2 with the console's controls.
    await console.select_option("#pacer-rate", "6.5")
    await console.select_option("#pacer-ratio", "2")
    await console.click("#pacer-form button[type=submit]")
    await client.wait_for_function(
        "() => window.attune.shown.phase !== null", timeout=30_000, polling=100
    )
    pacer = await client.evaluate("() => window.attune.shown.pacer")
    assert (pacer["breathsPerMin"], pacer["exhaleRatio"]) == (6.5, 2)
    # Sample what the page shows for 6 s; compare with the phase expected at that moment
    # from the rig's own session clock (independent of the page's estimate).
    samples = await client.evaluate(SAMPLE_PACER, [60, 100])
    period_s, inhale_s = 60 / 6.5, 60 / 6.5 / 3
    errors, boundary = [], 0.3  # skip samples within 0.3 s of a phase change
    for sample in samples:
        t_s = sample["wall_s"] - rig.origin_s
        into_s = (t_s - pacer["anchorS"]) % period_s
        near = min(into_s, abs(into_s - inhale_s), period_s - into_s)
        diff = (sample["breath"] - into_s / period_s + 0.5) % 1.0 - 0.5
        errors.append(abs(diff) * period_s)
        if near > boundary:
            expected = "in" if into_s < inhale_s else "out"
            assert sample["phase"] == expected
            assert sample["word"] == f"breathe {expected}"
    errors.sort()
    assert errors[len(errors) // 2] < 0.25, f"median phase error {errors[len(errors) // 2]:.3f} s"
    # ...and the phase advances at the set rate: unwrap it and fit breaths per second.
    unwrapped, turns, last = [], 0.0, samples[0]["breath"]
    for sample in samples:
        if sample["breath"] < last - 0.5:
            turns += 1
        last = sample["breath"]
        unwrapped.append(turns + sample["breath"])
    wall = [s["wall_s"] for s in samples]
    mean_w, mean_u = sum(wall) / len(wall), sum(unwrapped) / len(unwrapped)
    slope = sum((w - mean_w) * (u - mean_u) for w, u in zip(wall, unwrapped, strict=True))
    slope /= sum((w - mean_w) ** 2 for w in wall)
    assert abs(slope * 60 - 6.5) < 0.15, f"page breathes at {slope * 60:.2f}/min"

    # Reduced motion: no moving orb, the words still pace.
    calm = await browser.new_page(reduced_motion="reduce")
    await calm.goto(rig.client_url)
    await calm.wait_for_function("() => window.attune.shown.phase !== null", timeout=30_000)
    assert await calm.is_hidden("#orb")
    assert (await calm.inner_text("#breath-word")).startswith("breathe ")

    # Numbers only when the therapist turns them on; then the calm-meter shows them.
    assert await client.is_hidden("#numbers")
    await console.check("#show-numbers")
    await client.wait_for_selector("#numbers", state="visible", timeout=15_000)
    assert "of 100" in await client.inner_text("#numbers")
    await console.uncheck("#show-numbers")
    await client.wait_for_selector("#numbers", state="hidden", timeout=15_000)

    # Stopping the pacer hides it on the client's screen.
    await console.click("#pacer-stop")
    await client.wait_for_selector("#pacer", state="hidden", timeout=15_000)


async def test_console_resonance_assessment_and_session_end(
    browser: Browser, rig: DashboardRig
) -> None:
    page = await signed_in_console(browser, rig)
    await page.click("#resonance-start")
    await page.wait_for_function(
        "() => document.getElementById('resonance-now').textContent.includes('step 1 at 6.5')",
        timeout=15_000,
    )
    # The assessment drives the pacer, which the console shows.
    await page.wait_for_function(
        "() => document.getElementById('pacer-now').textContent.includes('6.5 breaths/min')",
        timeout=15_000,
    )
    await page.click("#resonance-stop")
    await page.wait_for_function(
        "() => document.getElementById('resonance-now').textContent.includes('cancelled')",
        timeout=15_000,
    )
    # Cancelling again is refused, and the console says why.
    await page.click("#resonance-stop")
    await page.wait_for_function(
        "() => document.getElementById('pacer-error').textContent.includes('no resonance')",
        timeout=15_000,
    )
    await page.click("#stop")
    await page.wait_for_function(
        "() => document.getElementById('session-state').textContent === 'ended'", timeout=15_000
    )
    assert await page.is_hidden("#stop")


@pytest.mark.parametrize(
    ("width", "height"), [(390, 780), (820, 1180), (1920, 1080)], ids=["phone", "tablet", "tv"]
)
async def test_client_view_fits_phone_tablet_and_tv(
    browser: Browser, rig: DashboardRig, width: int, height: int
) -> None:
    page = await browser.new_page(viewport={"width": width, "height": height})
    await page.goto(rig.client_url)
    await page.wait_for_function("() => window.attune.state.participants.size === 1")
    sizes = await page.evaluate(
        """() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth,
                   meter: document.querySelector('#meter svg').getBoundingClientRect().width,
                   word: parseFloat(
                       getComputedStyle(document.getElementById('meter-word')).fontSize) })"""
    )
    assert sizes["scroll"] <= sizes["inner"]  # nothing runs off the side
    assert sizes["meter"] >= 0.4 * min(width, height)  # the gauge is the large thing
    assert sizes["word"] >= 20  # readable across a room on a TV, and on a phone


async def test_reviewer_link_replays_and_exports_without_a_login(
    browser: Browser, rig: DashboardRig
) -> None:
    await rig.clock.sleep(60.0)
    page = await browser.new_page()  # no login cookie: the link's token is the credential
    await page.goto(rig.reviewer_url)
    await page.wait_for_function(
        "() => document.getElementById('title').textContent === 'Replay · Dashboard session'",
        timeout=15_000,
    )
    assert "replay.html" in page.url
    await page.click("#play")
    await page.wait_for_function(
        "() => [...window.attune.state.participants.values()].every(p => p.beats > 5)",
        timeout=30_000,
    )
    # A plain link cannot carry the bearer token: the page fetches the file and saves it.
    async with page.expect_download() as download_info:
        await page.click("#exports a[download='beats.csv']")
    download = await download_info.value
    path = await download.path()
    assert download.suggested_filename == "beats.csv"
    header = path.read_text().splitlines()[0]
    assert "rr_ms" in header


async def test_a_client_link_cannot_open_the_replay(browser: Browser, rig: DashboardRig) -> None:
    page = await browser.new_page()
    await page.goto(f"{rig.base_url}/replay.html#session={rig.session_id}&token={rig.client_token}")
    await page.wait_for_function(
        "() => document.getElementById('replay-error').textContent.length > 0", timeout=15_000
    )
    assert await page.evaluate("() => window.attune.state.participants.size") == 0


SESSION_ROWS = """() => [...document.querySelectorAll('#sessions tbody tr')].map(tr => ({
    cells: [...tr.cells].map(td => td.textContent),
    links: [...tr.querySelectorAll('a')].map(a => a.getAttribute('href')),
}))"""


@pytest.mark.parametrize(
    ("page_name", "links"),
    [
        ("therapist.html", ["/therapist.html#session={id}", "/replay.html#session={id}"]),
        ("replay.html", ["/replay.html#session={id}"]),
    ],
)
async def test_console_and_replay_without_a_session_list_the_therapists_sessions(
    browser: Browser, rig: DashboardRig, page_name: str, links: list[str]
) -> None:
    context = await browser.new_context()
    await context.add_cookies(rig.cookies())  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(f"{rig.base_url}/{page_name}")
    await page.wait_for_selector("#sessions:not([hidden]) tbody tr")
    (row,) = await page.evaluate(SESSION_ROWS)
    assert row["cells"][1] == "running"
    assert row["links"] == [link.format(id=rig.session_id) for link in links]
    await context.close()
