"""The reserve (`model`'s docstring, 10): dynos kept running for what reacting
cannot catch, and the recent bursts and peaks that size it.

Square-root staffing (or Erlang C, where it needs fewer slots and the rate
is not rising) covers a stream's noise when boot plus a poll leave no time
to react; a burst like a recent one gets the slots that the maximum,
asked for at its first sight, could not bring in time; and where no dyno
asked for at a rise's first sight starts a job in time, a new stream gets a
reserve for a peak it has not shown yet.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from guvscale.rules.types import Role
from guvscale.scaling.common import (
    APPLY_DELAY,
    BOOT_SPREAD,
    NO_SPREAD,
    Spread,
    blind_at_first_sight,
    dynos,
    run_spread,
    runs_longer,
    seconds,
)
from guvscale.scaling.race import RACE_HORIZON

# Bursts and peaks this recent size the reserve.
BURST_MEMORY = 1800.0
# Where no dyno asked for at a rise's first sight starts a job in time, a
# stream's peaks are known only once it has been watched for BURST_MEMORY;
# until then a peak of this many times the rate seen is staffed for, fading
# to the rate itself as the watch goes on (module docstring of `model`, 10).
FIRST_PEAK = 8.0


class Peak(NamedTuple):
    """A rate that rose past the noise of `base`, the rate shown to last
    then, and lasted two intervals, seen at `t`."""

    t: float
    rate: float
    base: float


def headroom(
    role: Role,
    hi: int,
    *,
    lasting: float,
    risen: float | None,
    quiet: bool,
    job_time: float,
    start_by: float,
    interval: float,
    z: float,
    peaks: list[Peak],
    bursts: list[tuple[float, float]],
    watched: float,
    seen: float,
) -> tuple[int, str]:
    """Dynos kept running for what reacting cannot catch: Poisson noise when
    boot plus a poll leave no time to react, and bursts like recent ones that
    the maximum could not start in time if asked for only at their first
    sight. (count, why) or (0, "").

    `risen`: `risen_rate` of the last intervals; `quiet`: the stream has
    stopped (the model's `_quiet_now`); `interval`: the plan's poll
    interval; `z`: the percentile's normal quantile; `watched`: how long the
    stream has been observed, at `seen` jobs/s on average."""
    if hi <= 0:
        return 0, ""
    c, jt = role.concurrency, job_time
    slack = max(start_by, jt)
    slow = role.boot + interval >= start_by
    # A rising rate shows in the last two intervals before it counts as
    # lasting; a poll's headroom is cheap next to the misses of a ramp.
    rising = False
    if risen and not quiet and risen > lasting:
        lasting, rising = risen, True
    busy = lasting * jt  # slots a Poisson stream keeps busy on average
    noise = 0.0
    stream = 0.0  # slots for the stream's noise alone, without a peak's
    peak_rate = 0.0
    top = max((peak_now(p, lasting) for p in peaks), default=0.0)
    # A stream so thin that no job comes within a reaction's time gets
    # reactions, not a dyno kept idle for it. Before a rate is shown to last
    # (and after an empty interval, which a fall is believed from at once)
    # the recent peak is what the stream is known by, until it is quiet.
    thin = max(lasting, top) * (role.boot + interval) < 1.0
    unknown = 0.0  # a peak not seen yet, staffed for while the stream is new
    if blind_at_first_sight(role, start_by) and not quiet and not thin and watched < BURST_MEMORY:
        # A multiple of the average, not of the last rate: one of a noisy
        # reading asked for a dyno one poll and shed it the next.
        unknown = first_peak(watched) * seen
        if not peak_costs(role, unknown - seen, seen, interval):
            unknown = 0.0
        top = max(top, unknown)
    if slow and max(busy, top) > 0 and not quiet and not thin:
        # Square-root staffing, c = a + β·√a: with no wait allowed β is the
        # percentile's z; a queue that may wait `slack` absorbs most of the
        # noise, which a window of that length shrinks by √(job time / slack).
        beta = z * min(1.0, math.sqrt(jt / slack))
        # That shrink is rough where a dyno of many slots runs near full:
        # Erlang C, with the wait the plan allows (start-by less the boot
        # spread), may need fewer, and then fewer do (development diurnal-19:
        # one 20-slot dyno for 18.7 busy slots met; this asked for two). The
        # whole start-by as the wait lost runs whose peaks come as steps.
        # Erlang C is for a stream that holds its rate: a rising one
        # overtakes a fleet run near full before a reaction lands, and its
        # queue got a race of 40 dynos (development diurnal-22 at 60 s: 4.19
        # dyno-hours became 4.84), so a rise keeps the square root's margin.
        # In a stream's noise a job waits on its own, so what it may wait
        # is the deadline less its own run, not the slow run every job was
        # held to (with the percentile spent twice: on the run, then on the
        # wait, heavy-tailed jobs kept 9 dynos for 3.8 busy slots).
        wait = start_by - BOOT_SPREAD * role.boot
        runs = run_spread(role.stddev / role.processing, role.percentile)

        def slots(a: float, spread: Spread) -> float:
            staffed = a + beta * math.sqrt(a)
            if rising or a > ERLANG_MAX_BUSY:
                return staffed
            return min(staffed, erlang_slots(a, jt, wait, role.percentile, spread))

        noise = stream = slots(busy, runs)
        # Minutes of a higher rate come back (a burst that lasts several
        # polls is no `bursts` entry, and reacting to it is too slow): the
        # peak of the last BURST_MEMORY is staffed for too. One not seen
        # yet is a guess, and keeps the slow run's margin (given the
        # spread, development shortdeadline-15 met its first
        # 37.5 jobs/s minute with a dyno fewer, sized for a guessed 28.9,
        # and missed at 30 and 60 s polls).
        if top * jt > busy:
            peak_rate = top
            noise = max(noise, slots(top * jt, runs if top > unknown else NO_SPREAD))
    # A burst of b jobs at once must start within the slack. Dynos asked
    # for at its first sight land `late` later at worst; whatever the
    # maximum could not start in the time left must find slots running.
    late = reaction(role, interval)
    b = max((b for _, b in bursts), default=0.0)
    left = max(0.0, slack - late)
    burst = max(0.0, b * jt - hi * c * left) / max(min(slack, late), 1e-9)
    noise_dynos = min(hi, math.ceil(noise / c - 1e-9))
    # What comes next is a peak like the last one's or a burst like the
    # last one, not both at once: the worse of the two is covered. Summed,
    # a burst across two polls, remembered as a peak too, kept a second
    # dyno idle for half an hour (development heavytail-27 at 30 s).
    need = max(noise, busy, max(stream, busy) + burst)
    total = min(hi, math.ceil(need / c - 1e-9))
    if total <= 0 or (noise == 0.0 and burst == 0.0):
        return 0, ""
    parts = []
    if noise_dynos and peak_rate and peak_rate == unknown:
        parts.append(
            f"{dynos(noise_dynos)} for a peak of {peak_rate:.3g} jobs/s "
            f"({peak_rate / seen:.2g} times the {seen:.3g} jobs/s seen, until "
            f"{BURST_MEMORY / 60:g} min of the stream show its peaks)"
        )
    elif noise_dynos and peak_rate and peak_rate < (raw := max(p.rate for p in peaks)):
        parts.append(
            f"{dynos(noise_dynos)} for {peak_rate:.3g} jobs/s, the last "
            f"{BURST_MEMORY / 60:g} min's peak ({raw:.3g} jobs/s) followed down as the rate falls"
        )
    elif noise_dynos and peak_rate:
        parts.append(
            f"{dynos(noise_dynos)} for a peak of {peak_rate:.3g} jobs/s "
            f"in the last {BURST_MEMORY / 60:g} min"
        )
    elif noise_dynos:
        parts.append(f"{dynos(noise_dynos)} for the noise of {lasting:.3g} jobs/s")
    if total > noise_dynos:
        parts.append(f"{total - noise_dynos} for bursts like the last 30 min's ({b:,.0f} jobs)")
    late_why = (
        f"boot plus a poll ({seconds(role.boot + interval)}) leave no time to react"
        if slow
        else "dynos asked for at a burst's first sight land too late"
    )
    return total, "headroom: " + " and ".join(parts) + f", as {late_why}"


def reaction(role: Role, interval: float) -> float:
    """When dynos asked for at a rise's first sight start jobs, at worst:
    the rise shows at the next poll, the request lands, the boot runs late."""
    return APPLY_DELAY + role.boot * (1 + BOOT_SPREAD) + interval


def peak_costs(role: Role, rise: float, seen: float, interval: float) -> bool:
    """Would a rise of `rise` jobs/s over a stream seen at `seen`, reacted
    to only at its first sight, make more jobs late than the percentile lets
    miss of an hour at that rate? Its jobs until dynos asked for then land
    (a late boot) wait at most that long, and miss if they then run longer
    than the deadline leaves."""
    react = reaction(role, interval)
    late = rise * react * runs_longer(role, role.deadline - react)
    return late > (1.0 - role.percentile / 100.0) * seen * RACE_HORIZON


def first_peak(watched: float) -> float:
    """The multiple of the rate seen staffed for as an unknown peak after
    `watched` seconds of the stream: FIRST_PEAK at first, 1 (none beyond the
    rate) after BURST_MEMORY, by when a real peak would have been seen."""
    return 1.0 + (FIRST_PEAK - 1.0) * max(0.0, 1.0 - watched / BURST_MEMORY)


def risen_rate(rates: list[float], spans: list[float], lasting: float, z: float) -> float | None:
    """The rate of the last two intervals, when both rose past the Poisson
    noise of the lasting rate (a reading or two above a steady mean is that
    noise, not a rise: staffing for it kept a dyno idle for half an hour)."""
    if len(rates) < 2:
        return None
    risen, span = min(rates[-2:]), min(spans[-2:])
    expected = lasting * span
    return risen if risen * span > expected + z * math.sqrt(expected) else None


def remember_peak(peaks: list[Peak], t: float, risen: float | None, base: float) -> list[Peak]:
    """The upper envelope of rates that rose and lasted two intervals
    (`risen`, seen at `t`, from `base`), over BURST_MEMORY: a newer peak
    replaces an older one only if it is no lower and rose no less (a
    plateau seen again once the rate shown to last caught up with it rose
    little, but the peak it rose to first is still a rise to staff for)."""
    peaks = [p for p in peaks if t - p.t <= BURST_MEMORY]
    if risen:
        rise = risen - base
        peaks = [p for p in peaks if p.rate > risen or p.rate - p.base > rise]
        peaks.append(Peak(t, risen, base))
    return peaks


def peak_now(peak: Peak, lasting: float) -> float:
    """The rate a remembered peak is staffed for at `lasting` jobs/s now.

    While the stream flows, its rise over the rate it rose from, on top of
    the rate now, never above the peak itself: a diurnal decline is followed
    down, not held at its top for 30 minutes (diurnal-22 at 60 s polls kept 7
    dynos as the rate fell from 5.7 to 0.4 jobs/s). Once no rate is believed
    (the stream stopped), the peak itself: a stream coming back after a stop
    likely comes back at it (followed down to its rise alone, an on/off
    stream's next on-period found fewer dynos and missed more)."""
    if lasting <= 0:
        return peak.rate
    return min(peak.rate, lasting + peak.rate - peak.base)


def remember_burst(
    bursts: list[tuple[float, float]],
    t: float,
    rates: list[float],
    spans: list[float],
    z: float,
    concurrency: int,
) -> list[tuple[float, float]]:
    """The bursts of the last BURST_MEMORY, with one just over, seen at `t`:
    the one or two intervals before the last brought more than both the last
    and the one before them, past Poisson noise. A rise that lasts is a new
    rate, and a fall the end of one, not a burst."""
    bursts = [(bt, b) for bt, b in bursts if t - bt <= BURST_MEMORY]
    if len(rates) < 4:
        return bursts
    base = max(rates[-1], min(rates[-4], rates[-3]))

    def excess(rate: float, span: float) -> float:
        expected = base * span
        return rate * span - expected - z * math.sqrt(expected) - 0.1 * expected

    before = list(zip(rates[-3:-1], spans[-3:-1], strict=True))
    size = sum(max(0.0, excess(r, s)) for r, s in before)
    # Fewer jobs than two dynos' slots, or than ten, are no burst worth a
    # dyno kept for half an hour (a few jobs an hour get reactions).
    if before and excess(*before[-1]) > 0 and size >= max(2 * concurrency, 10):
        bursts.append((t, size))
    return bursts


# Erlang C's search takes steps in proportion to the busy slots; past this
# many, it comes to square-root staffing anyway (Halfin and Whitt), and one
# tenant's month-long `processing` at 20 jobs/s (5·10^7 busy slots) held the
# shared worker's CPU for 33 s a decision.
ERLANG_MAX_BUSY = 10_000.0


def erlang_slots(
    busy: float,
    job_time: float,
    wait: float,
    percentile: float,
    spread: Spread = NO_SPREAD,
) -> float:
    """Fewest slots for a Poisson stream keeping `busy` slots busy on
    average, with the jobs a wait makes late no more than the percentile
    lets miss (Erlang C: exponential job times, M/M/c).

    `wait` is what a job running the slow run may wait; `spread`
    (`common.run_spread`) says how much longer each share of jobs may, in
    job times. Jobs too long to meet the deadline at all take their share of
    the percentile first; where they take all of it, every job is held to
    the slow run's wait, as if none were longer."""
    if busy <= 0:
        return 0.0
    allowed = 1.0 - percentile / 100.0
    waits = [(wait + extra * job_time, share) for extra, share in spread]
    budget = allowed - sum(share for w, share in waits if w <= 0)
    if budget > 0:
        waits = [(w / job_time, share) for w, share in waits if w > 0]
    else:  # the long jobs alone use the whole percentile
        waits, budget = [(max(0.0, wait) / job_time, 1.0)], allowed
    c = math.floor(busy) + 1  # fewer slots than busy ones never catch up
    blocked = erlang_b(c, busy)
    while sum(share * waits_longer(c, busy, blocked, w) for w, share in waits) > budget:
        c += 1
        blocked = busy * blocked / (c + busy * blocked)  # Erlang B's recursion
    return float(c)


def erlang_b(c: int, busy: float) -> float:
    """Erlang B: the share of arrivals that find all `c` slots busy and no queue."""
    blocked = 1.0
    for k in range(1, c + 1):
        blocked = busy * blocked / (k + busy * blocked)
    return blocked


def waits_longer(c: int, busy: float, blocked: float, wait_in_jobs: float) -> float:
    """P(wait > `wait_in_jobs` job times) with `c` slots, `busy` of them busy
    on average (c > busy), from Erlang B's `blocked` for c (Erlang C)."""
    queued = c * blocked / (c - busy * (1.0 - blocked))
    return queued * math.exp(-(c - busy) * wait_in_jobs)
