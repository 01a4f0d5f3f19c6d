// Breathing pacer phase (docs/protocol.md, `pacer`): a rate of breaths/min and I:E = 1:ratio,
// breaths counted from anchor_s (an inhale onset) so every screen shows the same phase.
// Pure: unit-tested with `node --test`.

/** Inhale and exhale durations in seconds for a rate and exhale ratio. */
export function breathDurations(breathsPerMin, exhaleRatio) {
  const period = 60 / breathsPerMin;
  const inhale = period / (1 + exhaleRatio);
  return { period, inhale, exhale: period - inhale };
}

/**
 * The pacer's phase at session time tS: {phase: "in"|"out", within (0..1 of that phase),
 * breath (0..1 of the whole breath), level (0 empty .. 1 full lungs, eased so the animation
 * starts and ends each phase gently)}; null when no pacer is set.
 */
export function pacerPhase(pacer, tS) {
  if (!pacer || pacer.breathsPerMin == null) return null;
  const { period, inhale, exhale } = breathDurations(pacer.breathsPerMin, pacer.exhaleRatio);
  const intoBreath = (((tS - pacer.anchorS) % period) + period) % period;
  const breath = intoBreath / period;
  if (intoBreath < inhale) {
    const within = intoBreath / inhale;
    return { phase: "in", within, breath, level: ease(within) };
  }
  const within = (intoBreath - inhale) / exhale;
  return { phase: "out", within, breath, level: 1 - ease(within) };
}

function ease(x) {
  return (1 - Math.cos(Math.PI * x)) / 2;
}

/**
 * The pacer in force at tS: a change takes effect at its effective_s (the end of the breath
 * under way), so until then the previous setting still applies.
 */
export function pacerAt(history, tS) {
  let current = null;
  for (const p of history) if (p.effectiveS <= tS) current = p;
  return current;
}

/**
 * Session-time clock of a page: session time is estimated from live messages as
 * max(t_s - local_s), the freshest message giving the smallest delay. Returns a function
 * localS -> session seconds (null until a message was seen).
 */
export function createSessionClock() {
  let offset = null;
  return {
    observe(tS, localS) {
      const candidate = tS - localS;
      if (offset === null || candidate > offset) offset = candidate;
    },
    at(localS) { return offset === null ? null : localS + offset; },
  };
}
