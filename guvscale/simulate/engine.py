"""Discrete-event simulation of a worker role under a scaling policy.

Pure: values in, a `SimResult` out; no clock, no I/O; the same inputs and seed
give the same result. The model (scaling.md section 5), and the choices it
leaves open:

- Jobs are published at the given times into one FIFO queue. Each job's
  service time is its own (given, or drawn once per job from a lognormal with
  the trace's mean and cv, from the seed), so every policy sees the same
  workload for a seed.
- Dynos are billed from the scale request. A dyno consumes after `boot` x a
  uniform factor in [0.7, 1.3] (drawn from the seed, in order of request) and
  then holds up to `concurrency` x `prefetch` unacked jobs (the AMQP prefetch;
  the trace's multiplier, 1 unless set, Celery's default is 4) and runs
  `concurrency` of them at once; the rest wait in its buffer, FIFO, for its
  next free slot. RabbitMQ hands a ready message to the next consumer with
  credit in turn: here a round of turns, a dyno's turns being its spare
  credit up to `concurrency` (so a dyno with all its credit free takes a
  slot's worth, not its whole prefetch, before the next one's turn). A turn
  used goes to the back while the dyno still has that much credit; an ack
  adds one. With prefetch 1 the turns are the free slots. Jobs delivered to
  a dyno are out of every other's reach: a dyno that lands later does not
  get them.
- At the start the formation runs `initial` dynos (default: the minimum),
  already booted.
- Scaling down stops the newest dynos first. A dyno still booting stops at
  once. A running one stops taking jobs and its buffered jobs, never started,
  go back to the front of the queue at once, in publish order (RabbitMQ
  requeues a message to its old place; they are not redeliveries: nothing
  ran); it stops (and billing ends) when its last running job finishes, or
  at the 30 s grace, when the jobs still running are killed and put back at
  the front of the queue (redeliveries).
- The policy is asked at t = 0, pollinterval, 2·pollinterval, ... Events at
  the same instant run in this order: job finishes, grace kills, boots,
  formation changes, arrivals, then the poll; so a poll sees jobs published
  at its own instant. It sees what RabbitMQ's management API would show:
  `ready`, `unacked` (delivered, not yet acked: running and buffered),
  `consumers` = the number of consuming dynos (one consumer channel per dyno;
  stopping dynos no longer consume), `publish_rate` and `ack_rate` = messages
  published / acknowledged in the last poll interval divided by its length,
  `current` = the formation quantity last requested, `t`, and `now` = a fixed
  epoch + t so schedule windows apply. Its answer (negative counts are read
  as 0; nothing else is clamped: a policy keeps its own bounds) takes effect
  `apply_delay` (1 s) later.
- The run ends as soon as every job has finished and both the requested and
  the billed dynos are at or below the minimum; or at the cap, `tail` (2 h)
  after the last publish, with unfinished jobs counted as missing the deadline.
- Dyno-hours: billed dyno time until the last publish, and after it only the
  dynos above the minimum. Every policy must keep the minimum running forever,
  so charging it until each run happens to end would reward the run that ends
  first. With minimum 0 (five of six public traces) this is plain billed time.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from guvscale.rules.types import Role
from guvscale.scaling.types import Policy
from guvscale.simulate.metrics import Series, SimResult, percentile_of
from guvscale.simulate.observe import observe
from guvscale.simulate.traces import Trace

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # a Monday, 00:00 UTC

# Event kinds; the number orders events that fall at the same instant.
_FINISH, _KILL, _BOOT, _APPLY = 0, 1, 2, 3
# Dyno states.
_BOOTING, _RUNNING, _STOPPING, _STOPPED = 0, 1, 2, 3


@dataclass(frozen=True)
class SimConfig:
    apply_delay: float = 1.0  # s from poll to the formation change
    grace: float = 30.0  # s Heroku waits after SIGTERM before killing
    boot_jitter: float = 0.3  # boot time x uniform(1 - j, 1 + j)
    tail: float = 7200.0  # s after the last publish before the run is cut
    epoch: dt.datetime = EPOCH  # wall clock at t = 0
    initial: int | None = None  # dynos running at t = 0; None: the role's minimum


def draw_durations(n: int, mean: float, cv: float, seed: int) -> list[float]:
    """n lognormal job times with the given mean and coefficient of variation."""
    if mean <= 0:
        raise ValueError("mean job time must be above 0")
    if cv <= 0:
        return [mean] * n
    sigma2 = math.log1p(cv * cv)
    mu, sigma = math.log(mean) - sigma2 / 2, math.sqrt(sigma2)
    draw = random.Random(f"durations:{seed}").lognormvariate  # noqa: S311 - not secrets
    return [draw(mu, sigma) for _ in range(n)]


def run_trace(
    policy: Policy,
    trace: Trace,
    role: Role | None = None,
    seed: int = 0,
    config: SimConfig | None = None,
) -> SimResult:
    """Run `trace` under `policy`; the role defaults to the trace's own settings."""
    durations = trace.durations
    if durations is None:
        durations = draw_durations(len(trace.arrivals), trace.mean, trace.cv, seed)
    return run(
        policy,
        role or trace.role(),
        trace.arrivals,
        durations,
        seed=seed,
        config=config,
        prefetch=trace.prefetch,
    )


def run(
    policy: Policy,
    role: Role,
    arrivals: Sequence[float],
    durations: Sequence[float],
    seed: int = 0,
    config: SimConfig | None = None,
    prefetch: int = 1,
) -> SimResult:
    cfg = config or SimConfig()
    arr = list(arrivals)
    dur = list(durations)
    n = len(arr)
    if len(dur) != n:
        raise ValueError(f"{n} arrivals but {len(dur)} durations")
    if any(b < a for a, b in itertools.pairwise(arr)):
        raise ValueError("arrivals must be sorted")
    if n and (arr[0] < 0 or min(dur) <= 0):
        raise ValueError("arrivals must be >= 0 and durations > 0")

    if role.pollinterval <= 0 or role.concurrency < 1 or role.boot < 0:
        raise ValueError("the role needs pollinterval > 0, concurrency >= 1 and boot >= 0")
    if prefetch < 1:
        raise ValueError("the prefetch multiplier must be at least 1")
    conc = role.concurrency
    depth = conc * prefetch  # unacked jobs a consuming dyno may hold
    minimum = role.minimum
    poll_dt = role.pollinterval
    boot, jitter = role.boot, cfg.boot_jitter
    boot_draw = random.Random(f"boot:{seed}").uniform  # noqa: S311 - not secrets
    last_publish = arr[-1] if n else 0.0
    cap = last_publish + cfg.tail
    inf = math.inf

    heap: list[tuple[float, int, int, int, int]] = []
    push, pop = heapq.heappush, heapq.heappop
    seq = itertools.count()
    queue: deque[int] = deque()  # job indices waiting (ready)
    # The broker's round of turns: a running dyno is in it min(conc, credit)
    # times; ids of dynos no longer running are stale and skipped.
    free: deque[int] = deque()
    state: list[int] = []  # per dyno
    inflight: list[set[int]] = []  # per dyno: jobs delivered, not acked
    buffered: list[deque[int]] = []  # per dyno: the delivered jobs not started, FIFO
    alive: list[int] = []  # booting or running dynos, oldest first
    job_dyno = [-1] * n  # dyno holding the job, -1 if none
    finish = [inf] * n

    n_running = n_stopping = 0
    billed = 0
    billed_area = 0.0
    last_bill = 0.0
    max_billed = 0
    back_at: float | None = 0.0
    redeliveries = scale_ops = 0

    def set_billed(t: float, new: int) -> None:
        nonlocal billed, billed_area, last_bill, max_billed, back_at
        # After the last publish only dynos above the minimum are charged; per
        # interval, so time spent below the minimum is not a credit.
        before = max(0.0, min(t, last_publish) - last_bill)
        billed_area += billed * before + max(0, billed - minimum) * (t - last_bill - before)
        last_bill = t
        if new > minimum:
            back_at = None
        elif billed > minimum:
            back_at = t
        billed = new
        max_billed = max(max_billed, new)

    def dispatch(t: float) -> None:
        while queue and free:
            d = free.popleft()
            if state[d] != _RUNNING:
                continue
            j = queue.popleft()
            job_dyno[j] = d
            held = inflight[d]
            held.add(j)
            if depth - len(held) >= conc:
                free.append(d)
            if len(held) - len(buffered[d]) <= conc:
                push(heap, (t + dur[j], _FINISH, next(seq), j, d))
            else:
                buffered[d].append(j)

    def requeue(jobs: list[int]) -> None:
        # To the front, in publish order: the oldest jobs, back where they were.
        for j in sorted(jobs, reverse=True):
            job_dyno[j] = -1
            queue.appendleft(j)

    def start_dyno(st: int) -> int:
        state.append(st)
        inflight.append(set())
        buffered.append(deque())
        d = len(state) - 1
        alive.append(d)
        return d

    requested = minimum if cfg.initial is None else cfg.initial
    for _ in range(requested):
        d = start_dyno(_RUNNING)
        free.extend([d] * conc)
    n_running = requested
    set_billed(0.0, requested)

    series = Series()
    ai = done = 0
    last_finish = 0.0
    polls = 0
    next_poll = 0.0
    seen_arrived = seen_done = 0
    capped = False
    end = 0.0

    def finished() -> bool:
        return done == n and requested <= minimum and billed <= minimum

    if finished():
        end = 0.0
    else:
        while True:
            ta = arr[ai] if ai < n else inf
            th = heap[0][0] if heap else inf
            if th <= ta and th <= next_poll:
                if th > cap:
                    end, capped = cap, True
                    break
                t, kind, _, a, b = pop(heap)
                if kind == _FINISH:
                    if job_dyno[a] != b:
                        continue  # killed at the grace; redelivered
                    job_dyno[a] = -1
                    finish[a] = t
                    done += 1
                    last_finish = t
                    held = inflight[b]
                    held.discard(a)
                    st = state[b]
                    if st == _RUNNING:
                        if buffered[b]:
                            j = buffered[b].popleft()
                            push(heap, (t + dur[j], _FINISH, next(seq), j, b))
                        if depth - len(held) <= conc:
                            free.append(b)
                        if queue:
                            dispatch(t)
                    elif st == _STOPPING and not held:
                        state[b] = _STOPPED
                        n_stopping -= 1
                        set_billed(t, billed - 1)
                elif kind == _KILL:
                    if state[a] != _STOPPING:
                        continue
                    killed = list(inflight[a])
                    requeue(killed)
                    redeliveries += len(killed)
                    inflight[a].clear()
                    state[a] = _STOPPED
                    n_stopping -= 1
                    set_billed(t, billed - 1)
                    dispatch(t)
                elif kind == _BOOT:
                    if state[a] != _BOOTING:
                        continue  # stopped while booting
                    state[a] = _RUNNING
                    n_running += 1
                    free.extend([a] * conc)
                    dispatch(t)
                else:  # _APPLY
                    desired = max(0, a)
                    if desired != requested:
                        scale_ops += 1
                        requested = desired
                    have = len(alive)
                    if desired > have:
                        for _ in range(desired - have):
                            d = start_dyno(_BOOTING)
                            ready_at = t + boot * boot_draw(1 - jitter, 1 + jitter)
                            push(heap, (ready_at, _BOOT, next(seq), d, 0))
                        set_billed(t, billed + desired - have)
                    elif desired < have:
                        stopped = 0
                        handed_back: list[int] = []
                        for _ in range(have - desired):
                            d = alive.pop()  # newest first
                            if state[d] == _RUNNING:
                                n_running -= 1
                                if buffered[d]:
                                    handed_back += buffered[d]
                                    inflight[d].difference_update(buffered[d])
                                    buffered[d].clear()
                                if inflight[d]:
                                    state[d] = _STOPPING
                                    n_stopping += 1
                                    push(heap, (t + cfg.grace, _KILL, next(seq), d, 0))
                                    continue
                            state[d] = _STOPPED
                            stopped += 1
                        set_billed(t, billed - stopped)
                        if handed_back:
                            requeue(handed_back)
                            dispatch(t)
                if finished():
                    end = t
                    break
            elif ta <= next_poll:
                queue.append(ai)
                ai += 1
                if free:
                    dispatch(ta)
            else:
                t = next_poll
                if t > cap:
                    end, capped = cap, True
                    break
                obs = observe(
                    t,
                    ready=len(queue),
                    published=ai,
                    done=done,
                    seen_published=seen_arrived,
                    seen_done=seen_done,
                    interval=poll_dt,
                    consumers=n_running,
                    current=requested,
                    epoch=cfg.epoch,
                )
                seen_arrived, seen_done = ai, done
                decision = policy.decide(obs)
                push(heap, (t + cfg.apply_delay, _APPLY, next(seq), int(decision.desired), 0))
                series.t.append(t)
                series.queue.append(ai - done)
                series.requested.append(requested)
                series.running.append(n_running)
                polls += 1
                next_poll = polls * poll_dt

    set_billed(end, billed)
    dyno_seconds = billed_area
    latencies = sorted(f - p for f, p in zip(finish, arr, strict=True))
    within = sum(1 for x in latencies if x <= role.deadline) / n if n else 1.0
    job_seconds = math.fsum(dur)
    efficiency = dyno_seconds / (job_seconds / conc) if job_seconds > 0 else math.nan
    back_to_min = None if back_at is None else max(0.0, back_at - last_finish)
    return SimResult(
        jobs=n,
        done=done,
        within=within,
        p50=percentile_of(latencies, 50),
        p99=percentile_of(latencies, 99),
        dyno_hours=dyno_seconds / 3600,
        job_hours=job_seconds / 3600,
        efficiency=efficiency,
        scale_ops=scale_ops,
        redeliveries=redeliveries,
        max_dynos=max_billed,
        back_to_min=back_to_min,
        back_at=back_at,
        end=end,
        capped=capped,
        deadline=role.deadline,
        percentile=role.percentile,
        series=series,
        finish=tuple(finish),
    )
