"""Quality gates: whether each metric's window can be trusted (hrv-science.md §2.3, §1.1).

Every snapshot carries one gate per metric group, so a view can grey out what is not
trustworthy instead of hiding it. Limits on the share of flagged beats in a window:

| group | metrics | artefact limit | source |
| --- | --- | --- | --- |
| time domain | HR, mean NN, SDNN, RMSSD, lnRMSSD, pNN50, SD1/SD2 | 10 % | §2.3 "grey out RMSSD" |
| frequency | LF, HF, LF/HF, LFnu, HF peak | 5 % | §2.3 "frequency metrics" |
| coherence | coherence, breathing hint, RSA amplitude | 5 % | §2.3 "and coherence" |
| DFA | alpha1 | 3 % | §2.3, Rogers/Gronwald |
| stress | Baevsky SI | 5 % | ours: its range term is the most artefact-sensitive |

Spectral windows also fail when more than 10 % of them is bridged over gaps (ours: the spline
then invents that much of the signal), and the frequency gate fails in bradycardia: below
48 bpm the HF band's upper edge passes the beat-sampling Nyquist frequency (§1.1).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Gate(enum.StrEnum):
    OK = "ok"
    WARMING_UP = "warming_up"  # not enough data in the window yet (also again after a gap)
    ARTEFACTS = "artefacts"  # too many flagged beats in the window
    GAPS = "gaps"  # too much of the window interpolated over gaps
    LOW_HR = "low_hr"  # HF band beyond the beat-sampling Nyquist frequency


TIME_DOMAIN_ARTEFACT_LIMIT = 0.10
FREQUENCY_ARTEFACT_LIMIT = 0.05
COHERENCE_ARTEFACT_LIMIT = 0.05
DFA_ARTEFACT_LIMIT = 0.03
STRESS_ARTEFACT_LIMIT = 0.05
GAP_SHARE_LIMIT = 0.10
HF_MIN_HR_BPM = 48.0  # 0.4 Hz HF edge = HR/2 at 48 bpm


def gate(*, ready: bool, artefact_share: float, limit: float, gap_share: float = 0.0) -> Gate:
    """The gate of one window: warming up first, then artefacts, then gaps."""
    if not ready:
        return Gate.WARMING_UP
    if artefact_share > limit:
        return Gate.ARTEFACTS
    if gap_share > GAP_SHARE_LIMIT:
        return Gate.GAPS
    return Gate.OK


@dataclass(frozen=True, slots=True)
class QualityGates:
    """One gate per metric group (see the module table)."""

    time_domain: Gate
    frequency: Gate
    coherence: Gate
    dfa: Gate
    stress: Gate
