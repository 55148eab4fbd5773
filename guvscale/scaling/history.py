"""What a role's polls so far say of its queue, for `model.DeadlineModel`.

`History.observe` takes each poll's counts and keeps what the plan reads:
the arrival log and its ages, the recent publish rates and the real
intervals between polls, the peaks and bursts the reserve staffs for, the
job time measured from acks, and any redelivery. It decides nothing; the
reasoning it serves is the `model` docstring's (2, 3, 11 and 12). Its state
is saved and restored by the model, under the same keys as ever.
"""

from __future__ import annotations

import math
from typing import Any

from guvscale.rules.types import Role
from guvscale.scaling.arrivals import ArrivalLog, lasting_rate
from guvscale.scaling.common import as_measured, start_by
from guvscale.scaling.grace import outlive
from guvscale.scaling.race import RACE_HORIZON
from guvscale.scaling.reserve import Peak, remember_burst, remember_peak, risen_rate
from guvscale.scaling.types import Observation

# A rate lasts when it fills more than this many seconds (`model` docstring, 3).
LASTING_WINDOW = 90.0
# Rates (and the intervals they cover) kept, newest last.
RATE_HISTORY = 12
# Intervals between observations whose longest is the plan's poll interval.
INTERVAL_HISTORY = 6
# After jobs were seen redelivered, no dyno is shed while jobs are in flight
# for this long (`model` docstring, 12).
REDELIVERY_MEMORY = 3600.0
# The measured job time replaces `processing` once MEASURED_ACKS acks of
# saturated intervals back it and it differs from it by more than
# MEASURED_DISAGREES; from MEASURED_FEW acks on, sooner, if it differs by that
# much plus twice the noise of so few (`model` docstring, 11). Older
# measurements fade by MEASURED_FADE per saturated interval, or less for an
# interval of under ~5 acks: as if MEASURED_MEMORY acks were kept. (Minute-long
# jobs ack about one a poll, and a 5 % fade a poll held their count under 30
# for ever: a `processing` half the real one was trusted all run long.)
MEASURED_ACKS = 30.0
MEASURED_DISAGREES = 0.25
MEASURED_FADE = 0.95
MEASURED_FEW = 5.0
MEASURED_MEMORY = 100.0
# Little's law needs the in-flight samples (one a poll) to sum to this many
# jobs, so their mean is good to about 10 %; they fade as if IDLE_MEMORY were
# kept (a fleet of a few jobs in flight takes an hour or so to measure).
IDLE_SEEN = 100.0
IDLE_MEMORY = 300.0
# Once a measurement replaced `processing`, it stays until it comes within
# this share of the margin that let it in: a few acks more or fewer moved it
# across that margin and back, and each crossing re-sized the fleet.
MEASURED_STAYS = 0.5
# How a job time in use was measured, as a decision's reason says it.
BY_ACKS = "acks per consumer"
BY_LITTLE = "jobs in flight over the ack rate"


class History:
    def __init__(self, role: Role, *, z: float, soonest_landing: float) -> None:
        self.role = role
        self.z = z
        self.soonest_landing = soonest_landing
        # The start-by time for the job time in use (`_retime`), and that job time.
        self.start_by = start_by(role)
        self._timed_for = role.processing
        self.log = ArrivalLog()
        self.t: float | None = None  # last poll
        self.since: float | None = None  # first poll on this clock
        self.messages: int | None = None  # ready + unacked at the last poll
        self.ready: int | None = None  # ready at the last poll
        self.consumers: int | None = None  # consumers at the last poll
        self.rates: list[float] = []  # publish rates of recent intervals, newest last
        self.spans: list[float] = []  # their lengths, s
        self.redelivered_t: float | None = None  # last poll that saw jobs redelivered
        self.measuring = False  # did the last poll's job time come from the acks?
        self.busy_s = 0.0  # slot-seconds of saturated intervals (faded)
        self.acked = 0.0  # acks within them (faded)
        # Little's law over intervals with no queue: jobs in flight (the
        # mean of both polls' unacked) times the interval, and the acks.
        self.idle_busy_s = 0.0
        self.idle_acked = 0.0
        self.idle_seen = 0.0  # the unacked samples summed (faded)
        self.bursts: list[tuple[float, float]] = []  # (t, jobs beyond the lasting rate)
        self.ack_rate: float | None = None  # at the last poll
        self.volume: float | None = None  # publish rate averaged over about RACE_HORIZON
        # The same average over the polls seen only (`volume` fades in from the
        # first poll's rate): the sums of weighted rates and of their weights.
        self.seen_sum, self.seen_weight = 0.0, 0.0
        self.peaks: list[Peak] = []  # rates that rose and lasted two intervals
        # Prefetched jobs the dynos the model last shed held: they come back to
        # the queue at the stop without having run, which is no redelivery.
        self.handed_back = 0.0

    @property
    def interval(self) -> float:
        """The real time between observations: the longest of the last few
        (the worst case of when the next correction is seen), else the rules'."""
        return max(self.spans[-INTERVAL_HISTORY:]) if self.spans else self.role.pollinterval

    def logged_for(self, span: float) -> bool:
        """Has the arrival log seen every job published in the last `span` s?"""
        return self.since is not None and self.t is not None and self.t - self.since >= span

    @property
    def job_time(self) -> float:
        return self.measure()[0]

    @property
    def measured_by(self) -> str | None:
        """How the job time in use was measured; None: it is `processing`."""
        return self.measure()[1]

    def measure(self) -> tuple[float, str | None]:
        """`processing`, or what the acks measured when they disagree with it:
        over saturated intervals, where each ack freed a slot, or, with none,
        by Little's law over intervals with no queue (jobs in flight over the
        ack rate: a fleet kept idle by its headroom is never saturated), and
        how it was measured."""
        p = self.role.processing
        n = self.acked
        stays = MEASURED_STAYS if self.measuring else 1.0
        if n >= MEASURED_ACKS:
            measured = _clamped(p, self.busy_s / n)
            if abs(measured / p - 1.0) > stays * MEASURED_DISAGREES:
                return measured, BY_ACKS
            return p, None
        if n >= MEASURED_FEW:
            # The estimate's relative error: a job cut off at either end of
            # the window (1/n) and the jobs' own spread (cv/√n).
            cv = self.role.stddev / p
            noise = 2.0 * (1.0 / n + cv / math.sqrt(n))
            measured = _unless_near(p, self.busy_s / n, noise, stays)
            return measured, None if measured == p else BY_ACKS
        n, seen = self.idle_acked, self.idle_seen
        if n < IDLE_SEEN or seen < IDLE_SEEN:
            return p, None
        # The in-flight counts are one sample a poll: their mean's error is
        # about 1/√(their sum), the ack count's 1/√n. Used, it is taken one
        # error nearer `processing` (read 33 % short on 19 jobs' samples, a
        # fleet of 30 was shed to 2 and a steady run missed 9 points).
        error = 1.0 / math.sqrt(seen) + 1.0 / math.sqrt(n)
        measured = _unless_near(p, self.idle_busy_s / n, 2.0 * error, stays)
        if measured == p:
            return p, None
        return measured * math.exp(error if measured < p else -error), BY_LITTLE

    @property
    def outlive(self) -> float:
        """Share of in-flight jobs that outlast the stop grace (`grace.outlive`)."""
        return outlive(self.role, self.job_time)

    def went_back(self, t: float) -> bool:
        """Is `t` before the last poll (a state restored under another clock)?"""
        return self.t is not None and t < self.t

    def seen_rate(self) -> float:
        return self.seen_sum / self.seen_weight if self.seen_weight > 0 else (self.volume or 0.0)

    def watched(self) -> float:
        """Seconds of the stream observed so far (`seen_weight` is the weight
        1 - e^(-watched / RACE_HORIZON) those polls have in `seen_sum`)."""
        return -RACE_HORIZON * math.log1p(-min(self.seen_weight, 1.0 - 1e-12))

    def quiet_now(self) -> bool:
        """The stream has stopped: nothing waits, and nothing came for longer
        than the rate seen leaves silent but for the percentile's share of
        the time (one empty 15 s poll of a 0.2 jobs/s stream is noise: taken
        for a stop, it shed the headroom, and the next job raced 17 dynos)."""
        if not self.rates or self.rates[-1] != 0 or self.messages:
            return False
        silent = 0.0
        for rate, span in zip(reversed(self.rates), reversed(self.spans), strict=True):
            if rate != 0:
                break
            silent += span
        return self.seen_rate() * silent >= -math.log1p(-self.role.percentile / 100.0)

    def redelivered(self) -> bool:
        if self.redelivered_t is None or self.t is None:
            return False
        return self.t - self.redelivered_t <= REDELIVERY_MEMORY

    def noise(self, known: float) -> float:
        """The most jobs an interval expected to bring `known` brings by
        Poisson noise and one poll's clumping (two dynos' slots' worth)."""
        return known + self.z * math.sqrt(known) + 2 * self.role.concurrency

    def risen(self, lasting: float) -> float | None:
        """The rate recent intervals rose to past the noise of `lasting`, if any."""
        return risen_rate(self.rates, self.spans, lasting, self.z)

    def observe(self, obs: Observation, ready: int, unacked: int) -> tuple[float, float, float]:
        """Log this interval's arrivals, notice redeliveries, measure the job
        time; return the lasting publish rate, the surge and the rate shown
        to last (`plan.Poll`). The caller forgets the clock first if it went
        back (`went_back`)."""
        messages = ready + unacked
        surge = 0.0
        interval = None if self.t is None else obs.t - self.t
        rate = obs.publish_rate
        if rate is None and obs.ack_rate is not None and interval and self.messages is not None:
            # What left plus what the queue grew by is what came in.
            rate = max(0.0, obs.ack_rate + (messages - self.messages) / interval)
        if rate is None:
            rate = self.rates[-1] if self.rates else 0.0
        if self.t is not None and interval is not None and interval > 0:
            # Once a stream is known, an interval bringing more than it and its
            # noise holds a burst. Its jobs are all put at the interval's start:
            # when the burst came is unknown, and so is when the stream's share
            # did (spreading that share evenly left an import landing just after
            # a poll looking a poll younger than it was). The stream's share
            # still counts as rate: a rising stream is all such intervals.
            stream = None
            if len(self.rates) >= 3 and sum(self.spans) > LASTING_WINDOW:
                known = lasting_rate(self.rates, self.spans, LASTING_WINDOW) * interval
                stream = self.noise(known)
                if rate * interval > stream:
                    surge = rate - known / interval
            elif rate * interval > self.noise(0.0):
                # No stream known yet to tell a burst from: all of an interval
                # past an empty stream's noise may still be coming. Counted as
                # none, a cold start saw only its queue, too late for any dyno
                # to save, and held 1 dyno for 11.6 jobs/s (shortdeadline-8).
                surge = rate
            self.log.record(self.t, obs.t, rate * interval, stream)
            self._notice(obs, ready, unacked, rate, interval)
        self.handed_back = 0.0
        # Jobs older than the deadline plus a poll are late whatever their age.
        self.log.forget_before(obs.t - self.role.deadline - self.interval, keep=ready)
        # Jobs we did not see arrive arrived at the latest since the last poll.
        self.log.account_for(ready, unseen_at=obs.t - self.interval)
        span = interval if interval else self.interval
        # This interval's weight in the two averages of about an hour.
        share = -math.expm1(-interval / RACE_HORIZON) if interval else 0.0
        if self.volume is None:
            self.volume = rate
        else:
            self.volume += (rate - self.volume) * share
        self.seen_sum += (rate - self.seen_sum) * share
        self.seen_weight += (1.0 - self.seen_weight) * share
        self.rates = [*self.rates, rate][-RATE_HISTORY:]
        self.spans = [*self.spans, span][-RATE_HISTORY:]
        if self.since is None:
            self.since = obs.t
        self.t, self.messages, self.ready = obs.t, messages, ready
        self.consumers, self.ack_rate = obs.consumers, obs.ack_rate
        lasting = shown = lasting_rate(self.rates, self.spans, LASTING_WINDOW)
        # Peaks are rises past the noise of the rate shown to last, whatever
        # is believed of this interval below.
        self.peaks = remember_peak(self.peaks, obs.t, self.risen(shown), shown)
        expected = lasting * span
        if rate * span < expected - 2 * self.z * math.sqrt(expected):
            # A fall past what Poisson noise explains: the stream has stopped
            # or slowed, which is believed at once (a rise must last first).
            lasting = rate
        elif self.start_by <= self.soonest_landing and len(self.rates) >= 2:
            # No dyno asked for now lands before a queued job's start-by: a
            # rise that waits to be shown lasting has missed by then, and
            # queues every later job behind its backlog.
            lasting = max(lasting, rate)
        self.bursts = remember_burst(
            self.bursts, obs.t, self.rates, self.spans, self.z, self.role.concurrency
        )
        self.measuring = self.measured_by is not None
        self._retime()
        return lasting, surge, shown

    def _retime(self) -> None:
        """The start-by time for the job time in use, once the acks'
        measurement replaced `processing` or was dropped (`model` docstring,
        11): jobs twice as long as configured also have half the slack to
        wait in. This poll's plan and the next poll's `observe` use it."""
        job_time = self.job_time
        if job_time != self._timed_for:
            self._timed_for = job_time
            self.start_by = start_by(as_measured(self.role, job_time))

    def _notice(
        self, obs: Observation, ready: int, unacked: int, rate: float, interval: float
    ) -> None:
        """Redeliveries and the measured job time, from one interval's counts."""
        if self.ready is not None and self.messages is not None:
            # Ready can only rise by what was published, unless jobs came back:
            # killed at a dyno's stop and redelivered. With the publishes
            # counted that is proof enough (and more jobs in flight now must not
            # unsay it); with them only estimated, the jobs must also have left
            # the unacked count.
            unacked_before = self.messages - self.ready
            counted = obs.publish_rate is not None
            came = rate * interval + self.handed_back
            if ready - self.ready > came + 0.5 and (counted or unacked < unacked_before):
                self.redelivered_t = obs.t
        consumers, acks = obs.consumers, obs.ack_rate
        slots = (consumers or 0) * self.role.concurrency
        # An interval with no ack counts too: the management API refreshes its
        # counters every few seconds, so polled often, acks arrive in lumps, and
        # keeping only the intervals that saw some would overstate the rate.
        if (
            consumers
            and acks is not None
            and consumers == self.consumers
            and self.ready
            # The queue held more than the interval took, so it never ran dry:
            # busy at both polls is not busy throughout (a fleet near its
            # capacity starves between polls, and its jobs read ~1.5 x long).
            and self.ready >= acks * interval
            and ready > 0
            and unacked >= 0.9 * slots
        ):
            # Every slot was busy the whole interval: each ack freed one.
            fade = max(MEASURED_FADE, math.exp(-acks * interval / MEASURED_MEMORY))
            self.busy_s = fade * self.busy_s + slots * interval
            self.acked = fade * self.acked + acks * interval
        elif (
            consumers
            and acks is not None
            and consumers == self.consumers
            and self.ready == 0
            and ready == 0
            and self.messages is not None
            # Free slots at both polls: a consumer's prefetch holds jobs it
            # does not run, which read as long ones when its slots are full
            # (held-out prefetch-15: one dyno of 5 slots held 32, 28 s jobs
            # were read where 4 s ran, at 2.4 x the cheapest peer's cost).
            and max(self.messages, unacked) < 0.9 * slots
        ):
            # No queue at either poll and slots to spare: every job in
            # flight runs, so jobs in flight over the acks is the job time.
            in_flight = (self.messages + unacked) / 2
            fade = max(MEASURED_FADE, math.exp(-in_flight / IDLE_MEMORY))
            self.idle_busy_s = fade * self.idle_busy_s + in_flight * interval
            self.idle_acked = fade * self.idle_acked + acks * interval
            self.idle_seen = fade * self.idle_seen + in_flight

    def forget_clock(self) -> None:
        """Drop what is tied to the old clock's times; the averages stay."""
        self.log, self.t, self.messages, self.ready = ArrivalLog(), None, None, None
        self.since = None
        self.rates, self.spans, self.bursts, self.peaks = [], [], [], []
        self.redelivered_t = None

    def state(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "since": self.since,
            "messages": self.messages,
            "rates": list(self.rates),
            "spans": list(self.spans),
            "ready": self.ready,
            "consumers": self.consumers,
            "ack_rate": self.ack_rate,
            "volume": self.volume,
            "seen": self.seen_sum,
            "seen_w": self.seen_weight,
            "peaks": [list(p) for p in self.peaks],
            "redelivered_t": self.redelivered_t,
            "measuring": self.measuring,
            "busy_s": self.busy_s,
            "acked": self.acked,
            "idle_busy_s": self.idle_busy_s,
            "idle_acked": self.idle_acked,
            "idle_seen": self.idle_seen,
            "bursts": [list(b) for b in self.bursts],
            "handed_back": self.handed_back,
            "log": self.log.to_json(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.t = number(state, "t")
        # State saved before `since` was kept: logged from this poll on.
        self.since = number(state, "since")
        if self.since is None:
            self.since = self.t
        self.messages = count(state, "messages")
        self.rates = [float(r) for r in state.get("rates", [])][-RATE_HISTORY:]
        self.spans = [float(r) for r in state.get("spans", [])][-RATE_HISTORY:]
        if len(self.spans) != len(self.rates):
            self.spans = [self.role.pollinterval] * len(self.rates)
        self.ready = count(state, "ready")
        self.consumers = count(state, "consumers")
        self.ack_rate = number(state, "ack_rate")
        self.volume = number(state, "volume")
        self.seen_sum = float(state.get("seen", 0.0) or 0.0)
        self.seen_weight = float(state.get("seen_w", 0.0) or 0.0)
        # State saved before peaks kept their base holds (t, rate): a base of
        # 0 staffs them as before, at the peak itself, never followed down.
        self.peaks = [
            Peak(float(p[0]), float(p[1]), float(p[2] if len(p) > 2 else 0.0))
            for p in state.get("peaks", [])
        ]
        self.redelivered_t = number(state, "redelivered_t")
        self.measuring = bool(state.get("measuring", False))
        self.busy_s = float(state.get("busy_s", 0.0) or 0.0)
        self.acked = float(state.get("acked", 0.0) or 0.0)
        self.idle_busy_s = float(state.get("idle_busy_s", 0.0) or 0.0)
        self.idle_acked = float(state.get("idle_acked", 0.0) or 0.0)
        self.idle_seen = float(state.get("idle_seen", 0.0) or 0.0)
        self.bursts = [(float(t), float(b)) for t, b in state.get("bursts", [])]
        self.handed_back = float(state.get("handed_back", 0.0) or 0.0)
        self.log = ArrivalLog.from_json(state.get("log"))
        self._retime()


def number(state: dict[str, Any], key: str) -> float | None:
    v = state.get(key)
    return None if v is None else float(v)


def count(state: dict[str, Any], key: str) -> int | None:
    v = state.get(key)
    return None if v is None else int(v)


def _clamped(p: float, measured: float) -> float:
    """A measurement kept within p/5 and 10·p: past those, sooner a fault."""
    return min(max(measured, p / 5), p * 10)


def _unless_near(p: float, measured: float, noise: float, share: float = 1.0) -> float:
    """The measured job time, if it differs from `p` by more than `share` of
    a quarter plus `noise` (its relative error), else `p`."""
    measured = _clamped(p, measured)
    far = abs(math.log(measured / p)) > share * (math.log1p(MEASURED_DISAGREES) + noise)
    return measured if far else p
