"""The strap link state machine: pure transitions, driven by ``attune.collector.strap_link``.

    SCANNING --Found--> CONNECTING --Connected--> STREAMING
        ^                   |                        |
        |                Failed                 Dropped (link lost, silence watchdog)
        |                   v                        v
        +--BackoffElapsed-- BACKOFF <------------ (LOST reported, then BACKOFF)

Any state goes to STOPPED on StopRequested, and on a Failed whose problem is fatal (no
permission, BlueZ too old, not a heart-rate strap). Scanning never gives up: a strap that is
absent at start is found when it comes (a notice is reported once per scanning episode).

Backoff is capped exponential with full jitter (AWS Architecture Blog, "Exponential Backoff
And Jitter", 2015), so straps that drop together do not hammer the adapter together. Failed
connects escalate it; a connect that works resets it, so a strap that returns after a long
outage (adapter off, out of range) and drops again soon after starts from a short wait. Only
a link that keeps dropping within ``stable_after_s`` of connecting (flapping) escalates
across connects. Time is data: every input carries the monotonic time it happened at.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from attune.pipeline.events import LinkState


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with full jitter: uniform in [0, min(cap, base * 2**n)]."""

    base_s: float = 0.5
    cap_s: float = 30.0

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0 ** min(attempt, 62)))


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """Timings of one strap link, in clock seconds."""

    backoff: Backoff = field(default_factory=Backoff)
    stable_after_s: float = 30.0
    not_found_notice_s: float = 30.0
    silence_timeout_s: float = 5.0
    connect_timeout_s: float = 20.0


@dataclass(frozen=True, slots=True)
class Found:
    """The scanner saw the strap."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class NotFound:
    """The strap has not been seen for ``waited_s`` of scanning."""

    waited_s: float


@dataclass(frozen=True, slots=True)
class Connected:
    """Connected, services resolved and 0x2A37 notifications subscribed."""


@dataclass(frozen=True, slots=True)
class Failed:
    """Scanning or connecting failed; ``fatal`` problems stop the link."""

    reason: str
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class Dropped:
    """A streaming link ended (link loss, or the silence watchdog)."""

    reason: str


@dataclass(frozen=True, slots=True)
class BackoffElapsed:
    """The backoff wait is over."""


@dataclass(frozen=True, slots=True)
class StopRequested:
    """The user stops the collector."""


LinkInput = Found | NotFound | Connected | Failed | Dropped | BackoffElapsed | StopRequested


@dataclass(frozen=True, slots=True)
class Report:
    """A transition to tell the service (a ``link`` message) and the user."""

    state: LinkState
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """What a transition produced: reports in order, and how long to back off."""

    reports: tuple[Report, ...] = ()
    wait_s: float | None = None


class LinkStateError(ValueError):
    """An input that cannot happen in the current state (a bug in the driver)."""


@dataclass(slots=True)
class LinkMachine:
    """One strap's link state; ``handle`` is a pure function of state, input and time."""

    policy: LinkPolicy = field(default_factory=LinkPolicy)
    rng: random.Random = field(default_factory=random.Random)
    state: LinkState = LinkState.STOPPED
    attempt: int = 0
    found: Found | None = None
    _quick_drops: int = 0
    _streaming_since_s: float | None = None
    _noticed: bool = False

    def start(self) -> Step:
        """Begin scanning."""
        return self._scan()

    def handle(self, event: LinkInput, now_s: float) -> Step:  # noqa: PLR0911 - one per transition
        """Apply one input that happened at monotonic time ``now_s``."""
        if isinstance(event, StopRequested):
            return self._stop(None)
        match self.state, event:
            case LinkState.SCANNING, Found():
                self.found = event
                self.state = LinkState.CONNECTING
                return Step((Report(LinkState.CONNECTING, f"{event.name} ({event.address})"),))
            case LinkState.SCANNING, NotFound() if not self._noticed:
                self._noticed = True
                reason = f"strap not found after {event.waited_s:.0f} s of scanning"
                return Step((Report(LinkState.SCANNING, reason),))
            case LinkState.SCANNING, NotFound():
                return Step()
            case LinkState.SCANNING | LinkState.CONNECTING, Failed():
                return self._stop(event.reason) if event.fatal else self._backoff(event.reason)
            case LinkState.CONNECTING, Connected():
                self.state = LinkState.STREAMING
                self.attempt = 0
                self._streaming_since_s = now_s
                return Step((Report(LinkState.STREAMING),))
            case LinkState.STREAMING, Dropped():
                since = self._streaming_since_s
                stable = since is not None and now_s - since >= self.policy.stable_after_s
                self._quick_drops = 0 if stable else self._quick_drops + 1
                self.attempt = self._quick_drops
                self._streaming_since_s = None
                step = self._backoff(event.reason)
                return Step((Report(LinkState.LOST, event.reason), *step.reports), step.wait_s)
            case LinkState.BACKOFF, BackoffElapsed():
                return self._scan()
        raise LinkStateError(f"{type(event).__name__} cannot happen while {self.state.value}")

    def _scan(self) -> Step:
        self.state = LinkState.SCANNING
        self.found = None
        self._noticed = False
        return Step((Report(LinkState.SCANNING),))

    def _backoff(self, reason: str) -> Step:
        wait_s = self.policy.backoff.delay_s(self.attempt, self.rng)
        self.attempt += 1
        self.state = LinkState.BACKOFF
        return Step((Report(LinkState.BACKOFF, f"{reason}; retrying in {wait_s:.1f} s"),), wait_s)

    def _stop(self, reason: str | None) -> Step:
        if self.state is LinkState.STOPPED:
            return Step()
        self.state = LinkState.STOPPED
        return Step((Report(LinkState.STOPPED, reason),))
