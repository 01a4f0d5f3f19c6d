"""Turns a stream of beats into Heart Rate Measurement notifications, the way a strap does:
about one notification a second carrying the RR values completed since the last one, oldest
first, in 1/1024 s units (Heart Rate Service 1.0, §3.1; hrv-science.md §2.1).

What a real strap does that the packetizer reproduces:

- RR values are quantised to 1/1024 s and the strap's own clock runs on the quantised sum;
- an ectopic beat is just a short RR followed by a long one (the strap does not know);
- while skin contact is lost the strap keeps notifying with the contact bit clear and no RR,
  and the beats of that span are never reported; the first interval after contact returns is
  the first one whose both ends were detected;
- optionally, a missed R-wave detection (motion, poor contact): two intervals reported as
  one, the classic "missed beat" artefact (Lipponen & Tarvainen 2019).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from attune.sensor.hrm import HeartRateMeasurement, encode_hrm, rr_ms_to_1024
from attune.sim.physiology import SimBeat

MAX_RR_PER_NOTIFICATION = 9  # what fits a default 23-byte ATT MTU with a uint8 HR


def _always_in_contact(t_s: float) -> bool:
    del t_s
    return True


@dataclass(frozen=True, slots=True)
class SimulatedNotification:
    """A notification as it leaves the strap at strap time ``t_s``."""

    t_s: float
    payload: bytes


@dataclass(slots=True)
class StrapPacketizer:
    """Packs ``beats`` into a notification every ``period_s`` of strap time.

    ``contact_ok(t_s)`` says whether the strap touches the skin; ``contact_supported=False``
    makes a strap without the contact feature (contact losses then just silence RR).
    ``missed_beat_rate`` is the chance that a beat's R wave goes undetected (seeded).
    """

    beats: Iterator[SimBeat]
    period_s: float = 1.0
    contact_ok: Callable[[float], bool] = _always_in_contact
    contact_supported: bool = True
    missed_beat_rate: float = 0.0
    seed: int = 0
    _t_s: float = 0.0
    _pending: SimBeat | None = None
    _last_detected_tick: int | None = None
    _last_hr_bpm: int = 0
    _exhausted: bool = False
    _rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.missed_beat_rate < 1.0:
            raise ValueError(f"missed_beat_rate must be within 0-1, got {self.missed_beat_rate}")
        if self.period_s <= 0:
            raise ValueError(f"period_s must be > 0, got {self.period_s}")
        self._rng = np.random.default_rng(self.seed)

    @property
    def exhausted(self) -> bool:
        """The beat stream has ended and everything has been sent."""
        return self._exhausted and self._pending is None

    def next_notification(self) -> SimulatedNotification:
        """The notification sent at the next period boundary."""
        self._t_s += self.period_s
        rr_1024: list[int] = []
        for beat in self._beats_until(self._t_s):
            if not self.contact_ok(beat.t_s):
                self._last_detected_tick = None
                continue
            if self._missed():
                continue  # the next detected beat's interval spans this one
            # The strap's counter ticks at 1/1024 s: beat times are quantised, intervals are
            # differences of ticks, so the RR sum never drifts from the strap clock.
            tick = rr_ms_to_1024(beat.t_s * 1000.0)
            last_tick, self._last_detected_tick = self._last_detected_tick, tick
            if last_tick is None:
                continue  # the first beat after (re)gaining contact has no interval yet
            raw = tick - last_tick
            self._last_hr_bpm = round(60.0 * 1024.0 / raw)
            rr_1024.append(raw)
        contact = self.contact_ok(self._t_s)
        if not contact:
            rr_1024 = []
        measurement = HeartRateMeasurement(
            hr_bpm=self._last_hr_bpm,
            contact=contact if self.contact_supported else None,
            rr_1024=tuple(rr_1024[-MAX_RR_PER_NOTIFICATION:]),
            rr_present=bool(rr_1024),
        )
        return SimulatedNotification(self._t_s, encode_hrm(measurement))

    def _beats_until(self, t_s: float) -> Iterator[SimBeat]:
        while True:
            if self._pending is None:
                self._pending = next(self.beats, None)
                if self._pending is None:
                    self._exhausted = True
                    return
            if self._pending.t_s > t_s:
                return
            beat, self._pending = self._pending, None
            yield beat

    def _missed(self) -> bool:
        return self.missed_beat_rate > 0 and self._rng.uniform() < self.missed_beat_rate
