"""Beat timeline reconstruction from Heart Rate Measurement notifications.

BLE RR values carry no timestamps (hrv-science.md §2.1): a strap sends about one notification
a second holding the RR intervals completed since the last one, sometimes none, and Polar
notes they can be seconds old. We rebuild beat times by summing RR values, anchored to the
arrival time of the notification that opened the run, and watch the difference between the
RR-sum clock and the arrival clock (the drift: transport latency relative to the first
anchor, plus the slow divergence of the strap's crystal from the collector's clock). Every
later anchor (after a gap) is the arrival time minus the drift, so all runs of a session share
one time base and a participant's beats stay aligned with the other participant's across
drop-outs (synchrony measures lags of a second or less). A gap, with its cause, is declared
when:

- the link is lost (the collector says so), or skin contact is lost;
- notifications keep arriving without RR for longer than any plausible beat;
- the RR sum disagrees with the arrival clock by more than the tolerance (beats lost or
  invented), after which the run is re-anchored to the arrival time;
- an RR value falls outside the hard physiological range (300-2000 ms, hrv-science.md §2.1
  step 4, as in hrv-analysis ``remove_outliers``).

No difference-based metric may span a gap: the first beat after one has ``after_gap`` set.
Time is data here: every call takes the arrival time, nothing reads a clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from attune.sensor.hrm import MS_PER_RR_UNIT, HeartRateMeasurement

RR_MIN_MS = 300.0
RR_MAX_MS = 2000.0
# A short median of recent RR values is enough to scale the clock tolerance.
RECENT_RR_BEATS = 15


class GapCause(enum.StrEnum):
    """Why the beat sequence is broken."""

    LINK_LOST = "link_lost"
    CONTACT_LOST = "contact_lost"
    NO_RR = "no_rr"
    CLOCK_MISMATCH = "clock_mismatch"
    RR_OUT_OF_RANGE = "rr_out_of_range"


@dataclass(frozen=True, slots=True)
class Beat:
    """One RR interval, ending at ``t_s`` (same time base as the arrival times given)."""

    index: int
    t_s: float
    rr_ms: float
    rr_1024: int
    received_at_s: float
    after_gap: bool


@dataclass(frozen=True, slots=True)
class Gap:
    """A span without trustworthy beats, from the last good beat to the next good interval."""

    start_s: float
    end_s: float
    cause: GapCause


@dataclass(frozen=True, slots=True)
class TimelineUpdate:
    """What one notification (or link event) changed."""

    beats: tuple[Beat, ...] = ()
    gaps: tuple[Gap, ...] = ()
    contact: bool | None = None
    drift_s: float = 0.0
    gap_open: GapCause | None = None


@dataclass(slots=True)
class _OpenGap:
    start_s: float
    cause: GapCause


@dataclass(slots=True)
class BeatTimeline:
    """Incremental, pure beat-time reconstruction for one participant's strap.

    ``tolerance_s`` bounds how far the RR-sum clock may stray from the arrival clock before
    we call it a gap; hrv-science.md §2.1 step 3 suggests max(1.5 s, 1.5 x median RR).
    ``drift_alpha`` is the EWMA weight of the slow drift tracker.
    """

    tolerance_s: float = 1.5
    drift_alpha: float = 0.05
    _last_beat_s: float | None = None
    _drift_s: float = 0.0
    _next_index: int = 0
    _open_gap: _OpenGap | None = None
    _recent_rr_ms: list[float] = field(default_factory=list)

    @property
    def drift_s(self) -> float:
        """Slow average of (arrival time - reconstructed time of the newest beat); kept across
        gaps, since latency and clock divergence belong to the strap and the link."""
        return self._drift_s

    def link_lost(self, at_s: float) -> TimelineUpdate:
        """The collector reported the link down at ``at_s``."""
        self._open(at_s, GapCause.LINK_LOST)
        return TimelineUpdate(drift_s=self._drift_s, gap_open=GapCause.LINK_LOST)

    def feed(self, hrm: HeartRateMeasurement, received_at_s: float) -> TimelineUpdate:
        """Add one notification that arrived at ``received_at_s``."""
        if hrm.contact is False:
            self._open(received_at_s, GapCause.CONTACT_LOST)
            return self._update((), (), hrm.contact)
        if not hrm.rr_1024:
            if self._silent_too_long(received_at_s):
                self._open(self._last_beat_s or received_at_s, GapCause.NO_RR)
            return self._update((), (), hrm.contact)
        return self._add_run(hrm, received_at_s)

    def _add_run(self, hrm: HeartRateMeasurement, received_at_s: float) -> TimelineUpdate:
        gaps: list[Gap] = []
        run_ms = sum(hrm.rr_1024) * MS_PER_RR_UNIT
        if self._last_beat_s is not None and self._open_gap is None:
            residual_s = received_at_s - (self._last_beat_s + run_ms / 1000.0) - self._drift_s
            if abs(residual_s) > self._tolerance():
                self._open(self._last_beat_s, GapCause.CLOCK_MISMATCH)
        if self._last_beat_s is None or self._open_gap is not None:
            # (Re-)anchor: the newest beat of this notification ends at its arrival time,
            # less the drift learned so far (zero for the first anchor).
            t_s = received_at_s - self._drift_s - run_ms / 1000.0
            if self._open_gap is not None:
                start_s = min(self._open_gap.start_s, t_s)
                gaps.append(Gap(start_s, t_s, self._open_gap.cause))
            self._open_gap = None
            after_gap = True
        else:
            t_s = self._last_beat_s
            after_gap = False

        beats: list[Beat] = []
        for raw in hrm.rr_1024:
            rr_ms = raw * MS_PER_RR_UNIT
            start_s, t_s = t_s, t_s + rr_ms / 1000.0
            if not RR_MIN_MS <= rr_ms <= RR_MAX_MS:
                gaps.append(Gap(start_s, t_s, GapCause.RR_OUT_OF_RANGE))
                after_gap = True
                continue
            beats.append(Beat(self._next_index, t_s, rr_ms, raw, received_at_s, after_gap))
            self._next_index += 1
            after_gap = False
            self._remember(rr_ms)
        self._last_beat_s = t_s
        self._drift_s += self.drift_alpha * ((received_at_s - t_s) - self._drift_s)
        return self._update(tuple(beats), tuple(gaps), hrm.contact)

    def _open(self, at_s: float, cause: GapCause) -> None:
        if self._open_gap is None:
            start_s = self._last_beat_s if self._last_beat_s is not None else at_s
            self._open_gap = _OpenGap(min(start_s, at_s), cause)

    def _silent_too_long(self, received_at_s: float) -> bool:
        if self._last_beat_s is None:
            return False
        return (
            received_at_s - self._last_beat_s - self._drift_s > self._tolerance() + RR_MAX_MS / 1000
        )

    def _tolerance(self) -> float:
        if not self._recent_rr_ms:
            return self.tolerance_s
        median_ms = sorted(self._recent_rr_ms)[len(self._recent_rr_ms) // 2]
        return max(self.tolerance_s, 1.5 * median_ms / 1000.0)

    def _remember(self, rr_ms: float) -> None:
        self._recent_rr_ms.append(rr_ms)
        if len(self._recent_rr_ms) > RECENT_RR_BEATS:
            del self._recent_rr_ms[0]

    def _update(
        self, beats: tuple[Beat, ...], gaps: tuple[Gap, ...], contact: bool | None
    ) -> TimelineUpdate:
        cause = self._open_gap.cause if self._open_gap else None
        return TimelineUpdate(beats, gaps, contact, self._drift_s, cause)
