"""A second simulator: fixed time steps instead of events.

Written from the workload model (scaling.md section 5 and the model stated
in `engine`'s docstring), not from the event engine's code, so that a figure
both agree on does not rest on one implementation's quirks. Same inputs, same
`SimResult`; pure and deterministic for a seed. Its boot times come from its
own random stream, so the two agree statistically, not run for run.

Time advances in steps of `step` seconds (default 1). The scaler's world
(polls, formation changes, boots, stops, grace kills, billing) changes only at
step boundaries: anything due inside a step happens at the next boundary, so
boots and stops are late by under a step. Jobs are not quantized: each
consumer slot keeps the time it is busy until, and within a step a job starts
at the latest of its slot's free time, its publish time and the step's start,
so one slot runs many 0.05 s jobs in a second.

The prefetch (the trace's multiplier, 1 unless set): a dyno holds up to
concurrency x prefetch unacked jobs, each a unit of credit the job's ack frees.
Jobs go in FIFO order to the unit free earliest (RabbitMQ hands messages to
consumers with credit in turn; units that free together go a slot's worth a
dyno at a time), delivered at the latest of that time, the publish and the
step's start, and start on the dyno's slot free earliest once delivered: the
jobs a dyno holds beyond its slots wait there, and a dyno that lands later
never gets them. With prefetch 1 a unit is a slot.

At each boundary t, in this order:
1. jobs that finished by t are acknowledged;
2. stopping dynos with nothing running stop; those past the grace are
   killed and their jobs go back to the front of the queue, in publish order;
3. dynos whose boot is over start consuming (their slots are free from t);
4. formation changes due by t apply (up: new dynos boot for boot x
   uniform(1 - jitter, 1 + jitter), billed from now; down: newest first, a
   booting one stops at once, a running one stops taking jobs and hands the
   jobs it holds that have not started back to the front of the queue, in
   publish order, not as redeliveries);
5. the run ends if every job is done and requested and billed dynos are at or
   below the minimum, or at the cap (`tail` after the last publish);
6. jobs published by t join the queue, and those free credit takes are
   delivered at t;
7. the poll, when one is due (t = 0, pollinterval, ...): what the management
   API shows at t; its answer applies `apply_delay` later;
8. the jobs published within the step join the queue and are delivered when
   credit frees;
9. the step is billed: billed dynos x the step until the last publish, after
   it only the dynos above the minimum.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Sequence

from guvscale.rules.types import Role
from guvscale.scaling.types import Policy
from guvscale.simulate.engine import SimConfig, draw_durations
from guvscale.simulate.metrics import Series, SimResult, percentile_of
from guvscale.simulate.observe import observe
from guvscale.simulate.traces import Trace

_EPS = 1e-9  # float slack when comparing a due time with a boundary k x step


class _Dyno:
    __slots__ = ("consuming", "held", "ready_at", "runs", "stop_at")

    def __init__(self, ready_at: float, consuming: bool) -> None:
        self.ready_at = ready_at  # consuming from this boundary on
        self.consuming = consuming  # booted and not told to stop
        self.stop_at = math.inf  # when told to stop (running dynos only)
        self.held: set[int] = set()  # jobs delivered and not yet acknowledged
        self.runs: list[float] = []  # heap: when each of its slots is free


def run_trace_steps(
    policy: Policy,
    trace: Trace,
    role: Role | None = None,
    seed: int = 0,
    config: SimConfig | None = None,
    step: float = 1.0,
) -> SimResult:
    """Run `trace` under `policy` in steps; the role defaults to the trace's own."""
    durations = trace.durations
    if durations is None:
        durations = draw_durations(len(trace.arrivals), trace.mean, trace.cv, seed)
    return run_steps(
        policy,
        role or trace.role(),
        trace.arrivals,
        durations,
        seed=seed,
        config=config,
        step=step,
        prefetch=trace.prefetch,
    )


def run_steps(
    policy: Policy,
    role: Role,
    arrivals: Sequence[float],
    durations: Sequence[float],
    seed: int = 0,
    config: SimConfig | None = None,
    step: float = 1.0,
    prefetch: int = 1,
) -> SimResult:
    cfg = config or SimConfig()
    pub, dur = list(arrivals), list(durations)
    n = len(pub)
    if len(dur) != n:
        raise ValueError(f"{n} arrivals but {len(dur)} durations")
    if any(pub[i + 1] < pub[i] for i in range(n - 1)):
        raise ValueError("arrivals must be sorted")
    if n and (pub[0] < 0 or min(dur) <= 0):
        raise ValueError("arrivals must be >= 0 and durations > 0")
    if role.pollinterval <= 0 or role.concurrency < 1 or role.boot < 0:
        raise ValueError("the role needs pollinterval > 0, concurrency >= 1 and boot >= 0")
    if step <= 0:
        raise ValueError("the step must be above 0")
    if prefetch < 1:
        raise ValueError("the prefetch multiplier must be at least 1")
    conc, minimum, every = role.concurrency, role.minimum, role.pollinterval
    units = range(conc * prefetch)
    boot_factor = random.Random(f"stepsim-boot:{seed}").uniform  # noqa: S311 - not secrets
    last_publish = pub[-1] if n else 0.0
    cap = last_publish + cfg.tail

    dynos: list[_Dyno] = []
    alive: list[int] = []  # booting or running, oldest first: scale-down pops the end
    booting: list[int] = []
    stopping: list[int] = []
    # (free at, round, dyno, unit): each unit of credit of the consuming dynos;
    # round = unit // concurrency deals units freed together a slot's worth a dyno.
    credit: list[tuple[float, int, int, int]] = []
    acks: list[tuple[float, int, int]] = []  # (finish, job, dyno) of delivered jobs
    holder = [-1] * n  # the dyno holding each job; a kill or hand-back makes its ack stale
    start = [math.inf] * n  # when the job starts on its dyno's slot
    finish = [math.inf] * n
    queue: deque[int] = deque()
    pending: deque[tuple[float, int]] = deque()  # (apply at, desired), in poll order

    def consume(d: int, t: float) -> None:
        dynos[d].consuming = True
        dynos[d].runs = [t] * conc
        for u in units:
            heapq.heappush(credit, (t, u // conc, d, u))

    requested = minimum if cfg.initial is None else cfg.initial
    for _ in range(requested):
        dynos.append(_Dyno(0.0, consuming=True))
        alive.append(len(dynos) - 1)
        consume(len(dynos) - 1, 0.0)
    billed = max_billed = requested
    back_at: float | None = None if billed > minimum else 0.0
    area = 0.0
    done = published = redeliveries = scale_ops = polls = 0
    seen_published = seen_done = 0
    last_poll, last_finish = -every, 0.0
    series = Series()

    def dispatch(before: float, t: float) -> None:
        """Deliver queued jobs to credit that frees before `before` (exclusive)."""
        while queue and credit and credit[0][0] < before:
            free_at, r, d, u = heapq.heappop(credit)
            dy = dynos[d]
            if not dy.consuming:
                continue  # stopped taking jobs; its credit entries just fall away
            j = queue.popleft()
            # Not before t: a job redelivered at t, or one credit idle since an
            # earlier step would have taken then had it been there, goes now.
            delivered = max(free_at, pub[j], t)
            start[j] = max(delivered, dy.runs[0])
            end_at = start[j] + dur[j]
            heapq.heapreplace(dy.runs, end_at)
            holder[j] = d
            dy.held.add(j)
            heapq.heappush(acks, (end_at, j, d))
            heapq.heappush(credit, (end_at, r, d, u))

    def acknowledge(upto: float) -> None:
        nonlocal done, last_finish
        while acks and acks[0][0] <= upto + _EPS:
            f, j, d = heapq.heappop(acks)
            if holder[j] != d:
                continue
            holder[j] = -1
            dynos[d].held.discard(j)
            finish[j] = f
            done += 1
            last_finish = max(last_finish, f)

    k = 0
    while True:
        t = k * step
        if t > cap + _EPS:
            acknowledge(cap)
            end, capped = cap, True
            break
        acknowledge(t)  # 1
        killed: list[int] = []  # 2
        for d in list(stopping):
            dy = dynos[d]
            if dy.held and t + _EPS >= dy.stop_at + cfg.grace:
                killed.extend(dy.held)
                for j in dy.held:
                    holder[j] = -1
                dy.held.clear()
            if not dy.held:
                stopping.remove(d)
        queue.extendleft(sorted(killed, reverse=True))
        redeliveries += len(killed)
        for d in [d for d in booting if dynos[d].ready_at <= t + _EPS]:  # 3
            booting.remove(d)
            consume(d, t)
        handed_back: list[int] = []
        while pending and pending[0][0] <= t + _EPS:  # 4
            desired = max(0, pending.popleft()[1])
            if desired != requested:
                scale_ops += 1
                requested = desired
            while len(alive) < desired:
                factor = boot_factor(1 - cfg.boot_jitter, 1 + cfg.boot_jitter)
                dynos.append(_Dyno(t + role.boot * factor, consuming=False))
                alive.append(len(dynos) - 1)
                booting.append(len(dynos) - 1)
            while len(alive) > desired:
                d = alive.pop()
                dy = dynos[d]
                dy.consuming = False
                if d in booting:
                    booting.remove(d)
                    continue
                waiting = [j for j in dy.held if start[j] > t + _EPS]
                for j in waiting:
                    holder[j] = -1
                    dy.held.discard(j)
                handed_back.extend(waiting)
                if dy.held:
                    dy.stop_at = t
                    stopping.append(d)
        queue.extendleft(sorted(handed_back, reverse=True))
        now_billed = len(alive) + len(stopping)
        if now_billed > minimum:
            back_at = None
        elif billed > minimum:
            back_at = t
        billed = now_billed
        max_billed = max(max_billed, billed)
        if done == n and requested <= minimum and billed <= minimum:  # 5
            end, capped = t, False
            break
        while published < n and pub[published] <= t:  # 6
            queue.append(published)
            published += 1
        dispatch(math.nextafter(t, math.inf), t)
        if t + _EPS >= polls * every:  # 7
            running = len(alive) - len(booting)
            obs = observe(
                t,
                ready=len(queue),
                published=published,
                done=done,
                seen_published=seen_published,
                seen_done=seen_done,
                interval=t - last_poll,
                consumers=running,
                current=requested,
                epoch=cfg.epoch,
            )
            pending.append((t + cfg.apply_delay, int(policy.decide(obs).desired)))
            series.t.append(t)
            series.queue.append(published - done)
            series.requested.append(requested)
            series.running.append(running)
            seen_published, seen_done, last_poll = published, done, t
            polls = math.floor(t / every + _EPS) + 1
        horizon = t + step  # 8
        while published < n and pub[published] < horizon:
            queue.append(published)
            published += 1
        dispatch(horizon, t)
        span = min(horizon, cap) - t  # 9
        before = min(max(0.0, last_publish - t), span)
        area += billed * before + max(0, billed - minimum) * (span - before)
        k += 1

    latencies = sorted(f - p for f, p in zip(finish, pub, strict=True))
    job_seconds = math.fsum(dur)
    return SimResult(
        jobs=n,
        done=done,
        within=sum(1 for x in latencies if x <= role.deadline) / n if n else 1.0,
        p50=percentile_of(latencies, 50),
        p99=percentile_of(latencies, 99),
        dyno_hours=area / 3600,
        job_hours=job_seconds / 3600,
        efficiency=area / (job_seconds / conc) if job_seconds > 0 else math.nan,
        scale_ops=scale_ops,
        redeliveries=redeliveries,
        max_dynos=max_billed,
        back_to_min=None if back_at is None else max(0.0, back_at - last_finish),
        back_at=back_at,
        end=end,
        capped=capped,
        deadline=role.deadline,
        percentile=role.percentile,
        series=series,
        finish=tuple(finish),
    )
