"""``attune bench cues``: cue counts per scripted session, with and without hysteresis.

Coupled simulated dyads run the scripted 20-min therapy session (baseline, conversation, client
arousal episode, grounding, paced breathing, recovery). Calm comes from the stand-in calm index
of ``attune.sim.feed`` (until the engine's is merged) and synchrony from ``LiveSynchrony``. The
same inputs go through the default policy and through two variants: thresholds without
hysteresis (off = on) and no hold time, keeping the minimum interval; and nothing at all (no
hysteresis, hold or minimum interval). Flicker is counted as a cue repeating its kind within
60 s. The default policy's cues are also broken down by the script phase they fell in.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
from collections import Counter
from typing import TYPE_CHECKING

from attune.cli.common import say
from attune.cues import Cue, CueConfig, CueKind, CuePolicy, default_cue_config
from attune.cues.config import AttunedRule, FallingCalmRule, RecoveringRule, Rule
from attune.sim import CLIENT_PROFILE, THERAPIST_PROFILE, Coupling, DyadSimulator, Role
from attune.sim import therapy_session as script
from attune.sim.feed import cue_inputs, live_synchrony

if TYPE_CHECKING:
    from attune.cli.common import Subcommands

FLICKER_S = 60.0


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "cues",
        help="cue counts per scripted session, with and without hysteresis",
        description=__doc__,
    )
    parser.add_argument("--seeds", type=int, default=50, help="simulated sessions")
    parser.set_defaults(run=run)


def without_hysteresis(config: CueConfig, *, keep_interval: bool) -> CueConfig:
    """The same thresholds with off = on, no hold time, and optionally no minimum interval."""

    def flat(rule: Rule) -> Rule:
        changes: dict[str, float] = {"hold_s": 0.0}
        if not keep_interval:
            changes["min_interval_s"] = 0.0
        if isinstance(rule, FallingCalmRule | RecoveringRule):
            changes["slope_off_per_min"] = rule.slope_on_per_min
        if isinstance(rule, AttunedRule):
            changes["calm_off"] = rule.calm_on
        return dataclasses.replace(rule, **changes)  # type: ignore[arg-type]

    rules = {
        f.name: flat(getattr(config, f.name))
        for f in dataclasses.fields(config)
        if f.name != "general"
    }
    return CueConfig(config.general, **rules)  # type: ignore[arg-type]


def session_cues(seed: int, configs: list[CueConfig]) -> tuple[list[list[Cue]], list[str]]:
    """Cues of each config on one simulated session, and the phase name of each second."""
    recording = DyadSimulator(
        script(), THERAPIST_PROFILE, CLIENT_PROFILE, Coupling(lag_s=3.0, strength=0.7), seed=seed
    ).run()
    states = live_synchrony(recording)
    times = [s.t_s for s in states]
    policies = [CuePolicy(c) for c in configs]
    fired: list[list[Cue]] = [[] for _ in configs]
    for t_s, snaps in cue_inputs(recording):
        i = bisect.bisect_right(times, t_s) - 1
        synchrony = states[i] if i >= 0 else None
        for policy, out in zip(policies, fired, strict=True):
            out.extend(policy.update(t_s, snaps[Role.THERAPIST], snaps[Role.CLIENT], synchrony))
    names = [p.name for p in recording.script.phases]
    return fired, names


def flicker(cues: list[Cue]) -> int:
    """Cues that repeat their kind within ``FLICKER_S``."""
    last: dict[CueKind, float] = {}
    count = 0
    for cue in cues:
        if cue.kind in last and cue.t_s - last[cue.kind] < FLICKER_S:
            count += 1
        last[cue.kind] = cue.t_s
    return count


def run(args: argparse.Namespace) -> int:
    default = default_cue_config()
    variants = {
        "policy (hysteresis, hold, min interval)": default,
        "no hysteresis, no hold (min interval kept)": without_hysteresis(
            default, keep_interval=True
        ),
        "no hysteresis, no hold, no min interval": without_hysteresis(default, keep_interval=False),
    }
    configs = list(variants.values())
    counts = [Counter[CueKind]() for _ in configs]
    flickers = [0 for _ in configs]
    by_phase: Counter[tuple[CueKind, str]] = Counter()
    script_phases = script()
    for seed in range(args.seeds):
        fired, _ = session_cues(seed, configs)
        for i, cues in enumerate(fired):
            counts[i].update(c.kind for c in cues)
            flickers[i] += flicker(cues)
        for cue in fired[0]:
            phase = script_phases.phases[script_phases.phase_index_at(cue.t_s)].name
            by_phase[(cue.kind, phase)] += 1
    n = args.seeds
    say(f"attune bench cues: {n} simulated 20-min sessions (coupled dyad), cues per session")
    header = (
        f"{'':44s}"
        + "".join(f"{k.value[:18]:>19s}" for k in CueKind)
        + f"{'total':>8s}{'flicker':>9s}"
    )
    say(header)
    for (name, _), count, flick in zip(variants.items(), counts, flickers, strict=True):
        row = "".join(f"{count[k] / n:19.2f}" for k in CueKind)
        say(f"{name:44s}{row}{sum(count.values()) / n:8.2f}{flick / n:9.2f}")
    say("\ndefault policy, cues per session by script phase:")
    phases = [p.name for p in script_phases.phases]
    say(f"{'':26s}" + "".join(f"{p[:15]:>16s}" for p in phases))
    for kind in CueKind:
        say(f"{kind.value:26s}" + "".join(f"{by_phase[(kind, p)] / n:16.2f}" for p in phases))
    return 0
