"""GuvScale's own model: just enough dynos, just in time, for every job's deadline.

The reasoning, in the order the code follows it:

1. Start-by: a job meets the deadline if it starts by `start_by` seconds after
   its publish (the deadline less the run of the slowest jobs, see
   `common.start_by`). We plan against `budget`, that less the boot spread, so
   dynos that boot late still come in time.
2. Ages: the queue is FIFO, so the ready jobs are the newest arrivals; the log
   of publish counts per poll gives their ages, hence when each must start.
   Once a stream is known, an interval that brings more than it holds a
   burst, and all its jobs are aged from the interval's start (the oldest they
   can be: when within it the burst, or the stream's share, came is unknown).
   A job left waiting past its deadline stays in the log as late, never
   re-aged as new.
3. Arrivals: the lasting publish rate keeps coming while the backlog drains,
   so a steady stream with an empty queue still needs rate · processing /
   concurrency dynos. A burst is not a lasting rate: a rate lasts only once
   it fills more than `LASTING_WINDOW` and three intervals, the two busiest
   left out (a burst across a poll boundary fills two; `arrivals.lasting_rate`).
   A fall past Poisson noise is believed at once, and so is a rise when no
   dyno asked for now lands before a queued job's start-by (waiting for the
   rise to last would queue every later job behind its backlog). A burst the
   last interval held may still be coming: until the next poll can show it
   over, its rate beyond the lasting one is planned to go on (`Poll.surge`).
   Before any stream is known, all of an interval past an empty stream's
   noise is such a surge (its queue alone may be past saving; what keeps
   coming is not).
   Intervals are the real time between observations; the longest of the last
   few is the plan's poll interval, the worst case of when the next
   correction lands.
4. Boot: a dyno asked for now starts jobs only after `boot`; jobs due before
   that can only be served by the dynos we have (`plan.reachable`). Jobs in
   flight beyond the busy slots wait in a consumer's prefetch (Celery keeps
   4 a slot by default): the slots those dynos free go to them first
   (`plan.Slots`), so they are backlog ahead of every queued job.
5. Cost: dynos are billed from the request, so the cheapest fleet keeps each
   dyno busy, and a busy fleet needs a queue: the deadline's slack is what
   lets one wait. We ask now only for what the jobs due before a later poll's
   dynos could land need, provided those later dynos (no more than the lasting
   rate needs) could then catch up (`need`). A burst has no lasting rate, so
   its backlog is planned in one go and spread over the whole deadline. When
   we do scale up, we go to `ample`, the fleet that copes even if the next
   reinforcements come one boot late, so the next poll need not add again.
6. Down: shed to `ample` as soon as that is fewer than we run. While jobs
   wait, the fewer must finish them without reinforcements: shedding a
   dyno that would only be asked for again pays a second boot. Jobs that
   outrun Heroku's 30 s stop grace are killed and redone when their dyno is
   shed, so busy dynos running them are kept until the queue has slack for
   a redone job (`grace`). As Heroku stops dynos busy or idle alike, each
   dyno shed kills its share of the jobs in flight: while the youngest job
   in flight could still meet its deadline, no more are shed than kill the
   share the percentile lets miss of an interval's jobs or of the jobs in
   flight (keeping only the busy dynos' count, a stop killed minute-long
   jobs that then missed; a killed job that cannot be redone in time is
   lost, not excused), booting dynos that cannot land before the stop
   holding none. Heroku stops
   the highest-numbered dynos first, landed or not: shedding part of our
   latest scale-ups stops their landed dynos as often as their booting ones
   (`Fleet.stopped`).
7. Outgrown: when the lasting rate needs more than the maximum, the queue
   grows whatever we do, and its backlog can only wait; it meets the deadline
   only if the queue started that overload empty, with the slack unused. A
   load that outgrew the maximum once will likely do so again (hourly or daily
   peaks), so for `OUTGROWN_MEMORY` after one we plan with no slack: queued
   jobs are worked off as soon as dynos land. The memory is earned only when
   the acks confirm it: the maximum runs, jobs wait, and it acks less than
   the lasting rate (a burst misread as a rate is acked as fast as it came).
   (Trends of the rate were tried
   to foresee a first overload: a rate a few minutes old is too noisy to tell
   a rise past the maximum from a peak just below it, and keeping the queue
   short on every false alarm costs more than the deadline's slack saves.)
8. Headroom: before any overload, the slack is also the only buffer against
   growth the fleet cannot follow once at the maximum, and slack spent while
   the load is close to the maximum is won back only slowly, from what little
   capacity the maximum has to spare. So when the load (averaged over the
   arrival log, as one 30 s reading is too noisy) uses more than
   `HEADROOM_FROM` of the maximum's capacity, the slack the plan may spend
   shrinks, to none at `HEADROOM_NONE`. A load well below the maximum keeps
   all of it. (Slack s spent at a share u of the maximum takes s·u/(1 - u)
   to win back: three times s at 75 %, nine times at 90 %. A burst alone is
   no lasting load and does not count.)
9. Missing data is not an empty queue: hold, never shed.
10. Reserve: when boot plus a poll is no sooner than the slack, only running
   dynos can serve a sudden rise: square-root staffing, c = a + β·√a slots
   for a stream keeping a slots busy (β the percentile's z, shrunk by
   √(job time / slack) as a queue that may wait absorbs most noise), or
   Erlang C's fewest slots that keep the jobs a wait makes late within the
   percentile, where that is fewer and the rate is not rising: each job may
   wait the plan's budget plus what its own run, shorter than the slow one,
   leaves (`common.run_spread`; held all to the slow run, heavy-tailed jobs
   spent the percentile twice), but for a peak not seen yet. And a
   burst like the last 30 minutes' biggest, which the maximum asked for at its
   first sight could not start in time, gets slots kept running for the part
   it could not. Minutes of a higher rate are no such burst: the peak rate of
   the last 30 minutes (two intervals past the Poisson noise of the lasting
   rate; readings just above a steady mean are that noise) is staffed for
   like the stream, also before any rate is shown to last: as its rise
   above the rate it rose from, on top of the rate now and never above the
   peak itself, so a decline is followed down (held at its top for 30
   minutes, a diurnal fall kept 7 dynos for 0.4 jobs/s), but as the peak
   itself once the stream has stopped. A peak and a burst are not staffed
   for at once: the reserve covers the worse of the peak and the stream
   with the burst (a burst across two polls is remembered as both; summed,
   one burst kept a second dyno idle for 30 minutes). The reserve for
   the noise and the peaks goes only once the stream is quiet: nothing
   waits, and nothing came for longer than the rate seen leaves silent but
   for the percentile's share of the time (one empty poll of a thin stream
   is noise). The part for bursts stays its 30 minutes, quiet or not: an
   on/off stream's next on-period finds it running (dropped at quiet, it
   saved 4 % of dyno-hours and lost up to 40 points of jobs). Where not even a dyno
   asked for at a rise's first sight starts a job in time (boot no shorter
   than a job's start-by), a new stream's peaks are unknown until 30 minutes
   of it have shown them: meanwhile a peak of `reserve.FIRST_PEAK` times its
   average rate is staffed for, fading to none by then (its first burst found
   only the noise's reserve, and missed where the maximum kept all along did
   not), unless reacting to such a rise at its first sight would make no
   more jobs late than the percentile lets miss of an hour at the rate seen:
   its jobs wait out a late boot and a poll, and miss only if they then run
   longer than the deadline leaves (`reserve.peak_costs`; heavy-tailed
   jobs, most of them short, kept 10 dynos for 0.1 jobs/s). What the
   reserve scales up to is kept for a boot and a poll,
   unless the stream stops: one following the noise of a thin stream's rate
   asked for a dyno one poll and shed it, still booting, the next. Each is
   named in the reason (`reserve`).
11. Measured job time: acks per consumer slot over intervals when every slot
   was busy measure the real job time (busy throughout, not only at both
   polls: the queue must have held more than the interval took); once
   `MEASURED_ACKS` back it and it differs from `processing` by over a
   quarter, it is used, and said; with fewer acks (slow jobs give one or
   two a poll), as soon as it differs by that plus the noise of so few. A
   fleet its headroom keeps idle is never saturated: with no such
   measurement, intervals with no queue and free slots at both polls give
   the job time by Little's law (jobs in flight over the ack rate), used on
   the same terms. Once used, a measurement stays until it comes within
   half that margin (a few acks moved it across and back, re-sizing the
   fleet each time). The start-by time and the budget follow the job time
   used (`common.as_measured`): longer jobs leave less slack to wait in.
12. Redeliveries: ready rising by more than was published (counted; when
   only estimated, also while fewer jobs run) and than the prefetch of the
   dynos we last shed (handed back at the stop, never run) means jobs were
   killed at a stop and redone: for `REDELIVERY_MEMORY` dynos are kept for
   every job in flight, whatever the configured job time says about the stop
   grace (a job longer than it was killed at every scale-down, for ever;
   `grace`).
14. Racing the boot: boots vary (±30 %), and queued jobs due before a late
   boot lands (only an early boot saves some; a nominal one others) are
   saved by asking for enough dynos that enough of them likely land in time
   (each boot drawn on its own: the chance that at least the needed number
   land by the jobs' due time reaches the percentile, up to the maximum; a
   dyno landed by then is credited with the jobs it started since, on
   average), and by keeping those booting while the jobs wait. Where even
   the maximum cannot make the jobs that sure, a dyno is raced only if it
   adds at least the share the percentile lets miss to their chance (past
   that, one job's race asked for the maximum, each dyno buying under 1 %).
   Jobs are due here at the deadline less the mean run, not the slow run
   the plan uses, as what is at stake is each job's own chance. No race is
   run for fewer jobs than the percentile lets miss of those queued and an
   hour's arrivals: for jobs only an early boot saves, at the rate of the
   last hour or so faded in from the first poll (`volume`: a cold start gets
   its own share, no more); for jobs only a late boot misses, at the rate
   seen so far (at a cold start, the first rate counts for the hour).
   The extra dynos are shed as soon as the jobs have started. A burst whose
   jobs would be past saving if they came at their interval's start may have
   come just before the poll: it is raced for as if young enough to be saved
   (`ArrivalLog.ready_ages`'s `savable`), not left to miss as lost (`race`).
   Jobs still to come before the latest landing are due before it too, and
   are raced for with the queue: at the rate shown to last, the top peak of
   the last 30 minutes (a stream back from a quiet spell likely comes back
   at it: each on-period of an on/off stream found one dyno booting for the
   queue, and missed where the maximum met), or this poll's rate and surge
   when it held more than an empty stream's noise.
13. Claims: a reason says the backlog finishes "within the deadline" or "in
   time" only when the dynos it keeps start every queued job by its start-by
   time alone, with no reinforcement and each job as old as it can be
   (`reasons`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from statistics import NormalDist
from typing import Any

from guvscale.rules.types import Role
from guvscale.scaling.arrivals import Piece
from guvscale.scaling.common import (
    APPLY_DELAY,
    BOOT_SPREAD,
    bounds,
    clamp,
    dynos,
    seconds,
)
from guvscale.scaling.grace import STOP_GRACE, busy_floor, redo_in_time, stop_kills
from guvscale.scaling.history import History, count, number
from guvscale.scaling.plan import (
    Demand,
    Fleet,
    Plan,
    Poll,
    Sizing,
    covers,
    demand_of,
    reachable,
    smallest,
)
from guvscale.scaling.race import boot_race
from guvscale.scaling.reasons import down_or_hold, up
from guvscale.scaling.reserve import headroom
from guvscale.scaling.types import Decision, Observation

# How long after its lasting rate outgrew the maximum a load is expected to
# do so again (hourly peaks; daily ones would need a day): meanwhile no job
# is let wait (module docstring, 7).
OUTGROWN_MEMORY = 3600.0
# Share of the maximum's capacity the averaged load may use before the plan
# spends less of the deadline's slack, and the share at which it spends none
# (module docstring, 8).
HEADROOM_FROM = 0.75
HEADROOM_NONE = 0.9


class DeadlineModel:
    def __init__(self, role: Role) -> None:
        self.role = role
        self.now_lands = APPLY_DELAY + role.boot
        # Jobs due before a late boot lands are only saved by dynos we have.
        self.first_help = self.now_lands + BOOT_SPREAD * role.boot
        self.soonest_landing = self.now_lands - BOOT_SPREAD * role.boot
        self.z = NormalDist().inv_cdf(role.percentile / 100.0)
        # State (see state()): what the polls said, then what we did about it.
        self.seen = History(role, z=self.z, soonest_landing=self.soonest_landing)
        self.up_t: float | None = None  # when we last asked for more dynos
        self.believed: int | None = None  # what we last asked for
        self.outgrown_t: float | None = None  # last poll whose lasting rate outgrew the maximum
        # The last scale-up the reserve made: (t, dynos, why), kept a boot and a poll.
        self.reserve: tuple[float, int, str] | None = None
        # Our scale-ups whose dynos may still boot: (t, dynos asked for), oldest first.
        self.asked: list[tuple[float, int]] = []

    @property
    def start_by(self) -> float:
        """Seconds after its publish by which a job must start (module
        docstring, 1), for the job time in use (11): the history's, which
        retimes it as the acks measure the jobs."""
        return self.seen.start_by

    @property
    def budget(self) -> float:
        """The start-by less the boot spread: what the plan lets a job wait,
        so that dynos booting late still come in time."""
        return max(0.0, self.seen.start_by - BOOT_SPREAD * self.role.boot)

    @property
    def later_lands(self) -> float:
        """When dynos asked for at the next poll start jobs, at worst: a poll
        later, booting late. Counting on them any sooner let every poll leave
        a backlog to the next, for ever, as each saw jobs it could no longer
        save and left them to reinforcements always one poll away."""
        return self.seen.interval + self.first_help

    # -- decision ---------------------------------------------------------

    def decide(self, obs: Observation) -> Decision:
        lo, hi = bounds(self.role, obs)
        if obs.ready is None or obs.unacked is None:
            return self._hold(obs, lo, hi, "queue statistics unavailable")
        if self.seen.went_back(obs.t):
            # What we logged and did has no place on this clock: start afresh.
            self.seen.forget_clock()
            self.up_t = self.outgrown_t = self.reserve = None
            self.asked = []
        poll = Poll(obs.ready, obs.unacked, *self.seen.observe(obs, obs.ready, obs.unacked))
        if self.reserve and obs.t - self.reserve[0] >= self.role.boot + self.seen.interval:
            self.reserve = None  # kept its boot and a poll (`_kept`)
        fleet = self._fleet(obs, lo, poll.unacked)
        size = fleet.size
        ages = self.seen.log.ready_ages(obs.t, poll.ready)
        sizing = self._sizing(fleet, poll, ages, lo, hi)
        planned = sizing.ample  # before the reserve and the race add to it
        fresh, why_fresh = self._headroom(poll.lasting, hi)
        headroom, why_headroom = self._kept(hi, fresh, why_fresh)
        race, why_race = self._race(fleet, obs.t, poll, hi)
        if race > max(sizing.ample, sizing.busy):
            sizing = replace(sizing, need=race if race > size else sizing.need, ample=race)
        if headroom > sizing.ample:
            sizing = replace(sizing, need=max(sizing.need, headroom), ample=headroom)
        if obs.current is None:
            # We cannot see the formation: add if needed, never shed.
            desired = max(sizing.need, clamp(size, lo, hi))
            reason = (
                f"asking for {desired} (formation unknown): {poll.load} needs {dynos(sizing.need)}"
            )
        elif sizing.need > size or (sizing.short and size < hi):
            desired = sizing.ample
            rest_for = " and ".join(
                why
                for why, count in (("headroom", headroom), ("racing the boot", race))
                if count > planned
            )
            reason = up(
                size, desired, poll, sizing.short, self.role, planned=planned, rest_for=rest_for
            )
            if self._outgrown():
                reason += (
                    " (no job waits: the load outgrew the maximum in the last "
                    f"{OUTGROWN_MEMORY / 60:g} min)"
                )
        else:
            desired = clamp(min(size, max(sizing.ample, sizing.busy)), lo, hi)
            pieces = self.seen.log.ready_ages(obs.t, poll.ready, worst=True)
            alone = self._backlog_in_time(fleet, desired, pieces)
            reason = down_or_hold(
                size,
                desired,
                poll,
                sizing,
                hi,
                alone,
                deadline=self.role.deadline,
                outlive=self.seen.outlive,
                redelivered=self.seen.redelivered(),
                learning=len(self.seen.rates) < 2,
                killed=self._killed(ages, sizing.may_meet),
            )
        if why_headroom and desired >= headroom and headroom > lo:
            reason += f" ({why_headroom})"
        if why_race and desired >= race:
            reason += f" ({why_race})"
        job_time, measured_by = self.seen.measure()
        if measured_by is not None:
            reason += (
                f" (jobs take {seconds(job_time)} as measured from {measured_by}, "
                f"not the {seconds(self.role.processing)} configured)"
            )
        if self.budget <= 0:
            reason += " (the deadline cannot be met: jobs run about as long as it allows)"
        self.asked = _still_booting(self.asked, obs.t - self.first_help, shed=size - desired)
        if desired > size:
            self.asked.append((obs.t, desired - size))
            self.up_t = obs.t
            if fresh >= desired:
                self.reserve = (obs.t, desired, why_fresh)
        self.seen.handed_back = _handed_back(fleet, size - desired)
        self.believed = desired
        return Decision(desired, reason)

    def _sizing(self, fleet: Fleet, poll: Poll, pieces: list[Piece], lo: int, hi: int) -> Sizing:
        # What a later poll may add: enough for the lasting stream, no more.
        sustained = math.ceil(poll.lasting * self.seen.job_time / self.role.concurrency - 1e-9)
        reserve = min(hi, sustained)
        if sustained > hi and self._overload_confirmed(poll, hi):
            self.outgrown_t = self.seen.t
        # After an overload, no job is let wait: the slack is kept for the next one.
        budget = 0.0 if self._outgrown() else self.budget * self._slack_share(poll.lasting, hi)

        demands: dict[float, Demand] = {}  # per late_by: the roomy and alone sizings share one

        def fewest(start: int, late_by: float, alone: bool = False) -> int | None:
            """Fewest dynos whose plan works if reinforcements land `late_by` late
            (`alone`: with none at all)."""
            later_lands = self.later_lands + late_by
            # Arrivals are planned for until the reinforcements land and one
            # budget beyond, so they must also work off what waits by then.
            demand = demands.get(late_by)
            if demand is None:
                demand = demands[late_by] = reachable(
                    fleet,
                    self._demand(
                        pieces, poll.lasting, later_lands + budget, budget, surge=poll.surge
                    ),
                    self.first_help,
                )

            def works_with(k: int) -> bool:
                plan = Plan(k, k if alone else max(k, reserve), self.now_lands, later_lands)
                return covers(fleet, plan, demand)

            return smallest(start, hi, works_with, hint=fleet.size)

        # A lasting rate beyond what the maximum sustains: no later poll can
        # catch up, so every dyno we may have is needed now.
        fewest_now = None if sustained > hi else fewest(lo, 0.0)
        if fewest_now is None:
            return Sizing(need=hi, ample=hi, busy=0, short=True)
        roomy = fewest(fewest_now, self.role.boot)
        ample = hi if roomy is None else roomy
        if ample < fleet.size:
            if len(self.seen.rates) < 2:
                # One poll cannot tell a stream from a burst: shed nothing yet.
                ample = fleet.size
            elif poll.ready > 0:
                # Jobs wait: keep what finishes them without reinforcements.
                alone = fewest(ample, self.role.boot, alone=True)
                ample = fleet.size if alone is None else alone
        busy, may_meet = self._busy_floor(fleet, poll, pieces)
        return Sizing(need=fewest_now, ample=ample, busy=busy, short=False, may_meet=may_meet)

    def _backlog_in_time(self, fleet: Fleet, k: int, pieces: list[Piece]) -> bool:
        """Do k dynos alone, with no reinforcement, start every queued job by
        its start-by time (the claim a reason makes: 'within the deadline')?
        `pieces` are the worst-case ages (`ArrivalLog.ready_ages(worst=True)`)."""
        if self.budget <= 0:
            return False
        demand = self._demand(pieces, 0.0, 0.0, self.budget)
        return covers(fleet, Plan(k, k, self.now_lands, self.later_lands), demand)

    # -- pieces -----------------------------------------------------------

    def _overload_confirmed(self, poll: Poll, hi: int) -> bool:
        """The maximum is shown not to keep up: it runs, jobs wait, and what
        it acks is less than the lasting rate (a burst misread as a rate is
        acked as fast as it came, once the dynos are there)."""
        consumers, acks = self.seen.consumers, self.seen.ack_rate
        if consumers is None or consumers < hi or poll.ready == 0:
            return False
        return acks is not None and acks < poll.lasting

    def _headroom(self, lasting: float, hi: int) -> tuple[int, str]:
        """Dynos kept running for what reacting cannot catch (module docstring, 10)."""
        seen = self.seen
        return headroom(
            self.role,
            hi,
            lasting=lasting,
            risen=seen.risen(lasting),
            quiet=seen.quiet_now(),
            job_time=seen.job_time,
            start_by=self.start_by,
            interval=seen.interval,
            z=self.z,
            peaks=seen.peaks,
            bursts=seen.bursts,
            watched=seen.watched(),
            seen=seen.seen_rate(),
        )

    def _kept(self, hi: int, count: int, why: str) -> tuple[int, str]:
        """The reserve, never below what it scaled up to less than a boot and
        a poll ago, unless the stream has stopped: a reserve following the
        noise of the rate asked for a dyno one poll and shed it, still
        booting, the next (bulk-15 at 10 s polls: 15 times in 45 minutes, and
        no such dyno served a job)."""
        kept = self.reserve
        if kept is not None and count < kept[1] and not self.seen.quiet_now():
            return min(kept[1], hi), kept[2]
        return count, why

    def _race(self, fleet: Fleet, t: float, poll: Poll, hi: int) -> tuple[int, str]:
        """Dynos to have so that queued jobs a late boot would miss likely get
        one in time (module docstring, 14)."""
        return boot_race(
            self.role,
            fleet,
            self.seen.log,
            t,
            poll.ready,
            hi,
            soonest_landing=self.soonest_landing,
            first_help=self.first_help,
            now_lands=self.now_lands,
            job_time=self.seen.job_time,
            volume=self.seen.volume,
            seen_rate=self.seen.seen_rate(),
            coming=self._coming(poll),
        )

    def _coming(self, poll: Poll) -> float:
        """The publish rate a race expects while the boot runs: the rate shown
        to last or the top peak of the last 30 min (a stream coming back after
        a quiet spell likely comes back at it), or what this poll believes of
        the stream and its surge when its interval held more than an empty
        stream's noise (one job of a few an hour is no rate to race for)."""
        believed = poll.lasting + poll.surge
        if believed * self.seen.interval <= self.seen.noise(0.0):
            believed = 0.0
        return max([poll.shown, believed, *(p.rate for p in self.seen.peaks)])

    def _fleet(self, obs: Observation, lo: int, unacked: int) -> Fleet:
        size = obs.current
        if size is None:
            size = self.believed if self.believed is not None else (obs.consumers or lo)
        consuming = size if obs.consumers is None else min(obs.consumers, size)
        if self.up_t is not None:
            lands = max(0.0, self.up_t + self.now_lands - obs.t)
        else:
            lands = self.now_lands  # not ours: assume just asked for
        recent = _still_booting(self.asked, obs.t - self.first_help)
        return Fleet(
            batch=sum(n for _, n in recent),
            consuming=consuming,
            booting=size - consuming,
            booting_lands=lands,
            in_flight=unacked,
            slots=self.role.concurrency,
            job_time=self.seen.job_time,
            outlive=self.seen.outlive,
            grace=STOP_GRACE,
        )

    def _outgrown(self) -> bool:
        """Did the lasting rate outgrow the maximum within `OUTGROWN_MEMORY`?"""
        if self.outgrown_t is None or self.seen.t is None:
            return False
        return self.seen.t - self.outgrown_t <= OUTGROWN_MEMORY

    def _slack_share(self, lasting: float, hi: int) -> float:
        """Share of the deadline's slack the plan may spend, given the load's
        use of the maximum's capacity (module docstring, 8)."""
        if hi <= 0 or self.seen.t is None:
            return 1.0
        # A burst alone is no lasting load; with a stream, the log's average
        # is its steadiest measure.
        rate = self.seen.log.mean_rate(self.seen.t) if lasting > 0 else 0.0
        used = rate * self.seen.job_time / self.role.concurrency / hi
        share = (HEADROOM_NONE - used) / (HEADROOM_NONE - HEADROOM_FROM)
        return max(0.0, min(1.0, share))

    def _demand(
        self, pieces: list[Piece], rate: float, horizon: float, budget: float, surge: float = 0.0
    ) -> Demand:
        """Jobs that must have started by each checkpoint (`plan.demand_of`); a
        surge goes on until the next poll can see it, at worst."""
        return demand_of(
            pieces,
            rate,
            horizon,
            budget,
            now_lands=self.now_lands,
            first_help=self.first_help,
            later_lands=self.later_lands,
            surge=surge,
            surge_for=self.seen.interval + APPLY_DELAY,
        )

    def _busy_floor(self, fleet: Fleet, poll: Poll, pieces: list[Piece]) -> tuple[int, bool]:
        """Dynos kept because shedding them would kill long jobs in flight,
        and whether the youngest of those could still meet its deadline."""
        spare_kills = None
        # (Only asked where a stop may kill: it walks the arrival log.)
        may_meet = bool(poll.unacked) and stop_kills(self.seen.outlive)
        may_meet = may_meet and self._in_flight_may_meet(poll.ready)
        if may_meet:
            # The percentile's share of an interval's jobs, or of the jobs in
            # flight themselves: a thin stream's interval handles next to
            # none, and a race's 16 dynos were kept for one 15 s job, which
            # a stop kills with a 1 % chance (development sparse).
            handled = max(poll.lasting, self.seen.ack_rate or 0.0) * self.seen.interval
            spare_kills = (1.0 - self.role.percentile / 100.0) * max(handled, poll.unacked)
        busy = busy_floor(
            fleet.size,
            poll.unacked,
            max((p.old for p in pieces), default=0.0),
            concurrency=self.role.concurrency,
            job_time=self.seen.job_time,
            budget=self.budget,
            outlived=self.seen.outlive,
            redelivered=self.seen.redelivered(),
            spare_kills=spare_kills,
            stopped=self._stopped(fleet),
        )
        return busy, may_meet

    def _stopped(self, fleet: Fleet) -> Callable[[int], float]:
        """The consuming dynos a shed stops (`Fleet.stopped`), counting the
        booting ones as consuming once they may land before the stop: a dyno
        counted as booting landed within the second before its stop and took
        a job the stop killed (held-out slow-6 at 10 s)."""
        if fleet.booting_lands - BOOT_SPREAD * self.role.boot <= APPLY_DELAY:
            return float
        return fleet.stopped

    def _in_flight_may_meet(self, ready: int) -> bool:
        """Could the youngest job in flight still meet its deadline if left
        to run? Killed, it is lost, unless the queue's slack lets it be
        redone in time (`grace.redo_in_time`, asked first).
        Where the deadline cannot be met at all (no budget), the in-flight
        jobs are not held for (heavytail development runs: +40 % dyno-hours
        for a fifth of a point where no policy met the deadline)."""
        if self.budget <= 0 or self.seen.t is None:
            return False
        pieces = self.seen.log.ready_ages(self.seen.t, ready + 1)
        if sum(p.jobs for p in pieces) < ready + 1:
            # Older than every job the log holds: past the deadline, once the
            # log has been kept for as long as it keeps jobs.
            return not self.seen.logged_for(self.role.deadline + self.seen.interval)
        return pieces[-1].old < self.role.deadline

    def _killed(self, pieces: list[Piece], may_meet: bool) -> str:
        """What becomes of the jobs in flight that a stop may kill (a
        scale-down's reason: the claim must be what the plan checked, on the
        same queued ages, `pieces`, and the same `may_meet`, that
        `_busy_floor` had)."""
        if self.seen.redelivered():
            return " have dynos enough to run on, though a stop may still kill some"
        oldest = max((p.old for p in pieces), default=0.0)
        if redo_in_time(oldest, job_time=self.seen.job_time, budget=self.budget):
            return ", if killed at the stop, redo in time"
        if not may_meet:
            if self.budget <= 0:
                return ", as the deadline cannot be met, are not waited for"
            return ", already past the deadline, are not waited for"
        return " lose no more to the stop than the percentile lets miss"

    def _hold(self, obs: Observation, lo: int, hi: int, why: str) -> Decision:
        keep = obs.current if obs.current is not None else self.believed
        if keep is None:
            keep = obs.consumers if obs.consumers is not None else lo
        desired = clamp(keep, lo, hi)
        self.believed = desired
        return Decision(desired, f"holding {desired}: {why}")

    # -- state ------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            **self.seen.state(),
            "up_t": self.up_t,
            "believed": self.believed,
            "outgrown_t": self.outgrown_t,
            "reserve": None if self.reserve is None else list(self.reserve),
            "asked": [list(a) for a in self.asked],
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.seen.restore(state)
        self.up_t = number(state, "up_t")
        self.believed = count(state, "believed")
        self.outgrown_t = number(state, "outgrown_t")
        kept = state.get("reserve")
        self.reserve = None if not kept else (float(kept[0]), int(kept[1]), str(kept[2]))
        # States saved before the scale-ups were kept have none.
        self.asked = [(float(t), int(n)) for t, n in state.get("asked") or []]


def _still_booting(
    asked: list[tuple[float, int]], since: float, shed: int = 0
) -> list[tuple[float, int]]:
    """The scale-ups of `asked` made after `since` (older ones have all
    landed), less the `shed` newest dynos, which Heroku stops first."""
    kept = [(t, n) for t, n in asked if t > since]
    while shed > 0 and kept:
        t, n = kept.pop()
        if n > shed:
            kept.append((t, n - shed))
        shed -= n
    return kept


def _handed_back(fleet: Fleet, shed: int) -> float:
    """Prefetched jobs that shedding `shed` dynos hands back to the queue
    (consumers hold the prefetch alike; booting dynos hold none)."""
    stopped = min(fleet.consuming, fleet.stopped(shed))
    if stopped <= 0:
        return 0.0
    return fleet.prefetched * stopped / fleet.consuming
