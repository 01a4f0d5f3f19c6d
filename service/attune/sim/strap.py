"""Turns a stream of RR intervals into Heart Rate Measurement notifications, the way a strap
does: about one notification a second carrying the RR values completed since the last one,
oldest first, in 1/1024 s units (Heart Rate Service 1.0, §3.1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from attune.sensor.hrm import HeartRateMeasurement, encode_hrm, rr_ms_to_1024


@dataclass(frozen=True, slots=True)
class SimulatedNotification:
    """A notification as it leaves the strap at strap time ``t_s``."""

    t_s: float
    payload: bytes


@dataclass(slots=True)
class StrapPacketizer:
    """Packs beats from ``next_rr_ms`` into notifications every ``period_s`` of strap time."""

    next_rr_ms: Callable[[], float]
    period_s: float = 1.0
    contact: bool | None = True
    _t_s: float = 0.0
    _beat_end_s: float = 0.0
    _pending_ms: float | None = None
    _last_hr_bpm: int = 0

    def next_notification(self) -> SimulatedNotification:
        """The notification sent at the next period boundary."""
        self._t_s += self.period_s
        rr_1024: list[int] = []
        while True:
            if self._pending_ms is None:
                self._pending_ms = self.next_rr_ms()
            if self._beat_end_s + self._pending_ms / 1000.0 > self._t_s:
                break
            raw = rr_ms_to_1024(self._pending_ms)
            # Keep the strap clock on the quantised values, as a real strap's counter is.
            self._beat_end_s += raw / 1024.0
            self._last_hr_bpm = round(60000.0 / self._pending_ms)
            rr_1024.append(raw)
            self._pending_ms = None
        measurement = HeartRateMeasurement(
            hr_bpm=self._last_hr_bpm,
            contact=self.contact,
            rr_1024=tuple(rr_1024[:9]),  # 9 RR values fill a default 23-byte ATT MTU
            rr_present=bool(rr_1024),
        )
        return SimulatedNotification(self._t_s, encode_hrm(measurement))
