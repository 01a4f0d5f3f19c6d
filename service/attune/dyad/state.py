"""What synchrony reports: frozen values for the pipeline, the wire and the recording."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from attune.dyad.surrogates import Verdict
    from attune.dyad.wcc import Peak


class Role(enum.StrEnum):
    """The two people of a dyad."""

    THERAPIST = "therapist"
    CLIENT = "client"

    @property
    def partner(self) -> Role:
        return Role.CLIENT if self is Role.THERAPIST else Role.THERAPIST


class Leader(enum.StrEnum):
    """Whose HR changes first, when the synchrony is above chance."""

    THERAPIST = "therapist"
    CLIENT = "client"
    TOGETHER = "together"  # above chance, lag shorter than the lead threshold
    UNDETERMINED = "undetermined"  # not above chance (or no verdict): nobody leads


class SynchronyStatus(enum.StrEnum):
    OK = "ok"
    WARMING_UP = "warming_up"  # the horizon is not full yet: no verdict
    SIGNAL_GAP = "signal_gap"  # too many unusable windows in the horizon: no verdict


@dataclass(frozen=True, slots=True)
class SynchronyState:
    """Synchrony after one window step (live) or over a whole session.

    ``t_s`` is the newest data time the state rests on. ``window_z``/``window_lag_s`` describe
    the newest window alone (peak Fisher z and its lag); ``index`` is the peak |z| of the mean
    lag profile over the horizon (or session), ``lag_s`` where that peak lies (> 0: the
    therapist leads). ``effect_size`` = (index - null mean) / null SD against the surrogates
    (``surrogates.py``), ``p_value`` the permutation p. ``confidence`` is the share of usable
    windows in the horizon. ``pacer_removed`` says a pacer frequency was regressed out.
    """

    t_s: float
    status: SynchronyStatus
    confidence: float
    window_z: float | None = None
    window_lag_s: float | None = None
    index: float | None = None
    lag_s: float | None = None
    in_phase: bool | None = None
    null_mean: float | None = None
    null_sd: float | None = None
    effect_size: float | None = None
    p_value: float | None = None
    n_surrogates: int = 0
    above_chance: bool = False
    leader: Leader = Leader.UNDETERMINED
    pacer_removed: bool = False

    @property
    def insufficient_data(self) -> bool:
        return self.status is not SynchronyStatus.OK

    @property
    def in_step(self) -> bool:
        """Above chance and moving the same way (not mirror-image)."""
        return self.above_chance and bool(self.in_phase)


def leader_for(lag_s: float, above_chance: bool, threshold_s: float) -> Leader:
    """Who leads, from the lag (> 0: therapist first), once synchrony is above chance."""
    if not above_chance:
        return Leader.UNDETERMINED
    if lag_s >= threshold_s:
        return Leader.THERAPIST
    if lag_s <= -threshold_s:
        return Leader.CLIENT
    return Leader.TOGETHER


def with_verdict(
    state: SynchronyState,
    result: Verdict,
    peak: Peak,
    *,
    above_chance: bool,
    lead_threshold_s: float,
    pacer_removed: bool,
) -> SynchronyState:
    """``state`` completed with a verdict on the mean lag profile whose peak is ``peak``."""
    # Every field named (a new state, not ``replace``: this runs on every live update).
    return SynchronyState(
        t_s=state.t_s,
        status=SynchronyStatus.OK,
        confidence=state.confidence,
        window_z=state.window_z,
        window_lag_s=state.window_lag_s,
        index=result.index,
        lag_s=peak.lag_s,
        in_phase=peak.z > 0,
        null_mean=result.null_mean,
        null_sd=result.null_sd,
        effect_size=result.effect_size,
        p_value=result.p_value,
        n_surrogates=result.n_surrogates,
        above_chance=above_chance,
        leader=leader_for(peak.lag_s, above_chance, lead_threshold_s),
        pacer_removed=pacer_removed,
    )
