"""A consumer prefetch (Trace.prefetch) in both simulators: the same hand-checked
figures from each, and agreement on the suite's `prefetch` family."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from typing import Any, Protocol

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guvscale.rules.types import Role
from guvscale.scaling.types import Observation, Policy
from guvscale.simulate import SimConfig, SimResult, run, run_steps, run_trace, run_trace_steps
from guvscale.simulate.baselines import Fastest
from guvscale.simulate.scenarios import prefetch, with_poll
from guvscale.simulate.traces import Trace
from tests.factories import Scripted, erratic
from tests.factories import sim_role as role


class Simulator(Protocol):
    def __call__(
        self,
        policy: Policy,
        role: Role,
        arrivals: list[float],
        durations: list[float],
        *,
        seed: int = ...,
        config: SimConfig | None = ...,
        prefetch: int = ...,
    ) -> SimResult: ...


SIMULATORS: dict[str, Simulator] = {"events": run, "steps": run_steps}


def two_while_work(obs: Observation) -> int:
    return 2 if (obs.messages or 0) else 0


def one_then_on_demand(obs: Observation) -> int:
    return 1 if obs.t < 30 or (obs.messages or 0) else 0


ONE_RUNNING = SimConfig(boot_jitter=0.0, initial=1)
TWO_RUNNING = SimConfig(boot_jitter=0.0, initial=2)

# (case, policy rule, role settings, config, prefetch, arrivals, durations,
# expected figures); `finish` is every job's finish time in publish order,
# `billed` dyno-seconds, `seen` (ready, unacked, consumers) at the first polls.
CASES: list[
    tuple[
        str,
        Callable[[Observation], int],
        dict[str, Any],
        SimConfig,
        int,
        list[float],
        list[float],
        dict[str, Any],
    ]
] = [
    (
        # d0 runs job0 0..40; d1, asked at 0, lands at 31 and takes job1
        # (31..71); d0 takes job2 at 40, d1 job3 at 71. Poll 120 sees none:
        # d0 billed 0..121, d1 1..121
        "prefetch 1: a dyno holds only what it runs, as before",
        two_while_work,
        {},
        ONE_RUNNING,
        1,
        [0.0] * 4,
        [40.0] * 4,
        dict(finish=[40.0, 71.0, 80.0, 111.0], billed=121.0 + 120.0, seen=[(3, 1, 1)]),
    ),
    (
        # d0 takes all four at 0 and runs them one after another; d1 lands at
        # 31 to an empty queue and gets none. Poll 180 sees none: d0 billed
        # 0..181, d1 1..181
        "prefetch 4: a dyno that lands later gets none of the buffered jobs",
        two_while_work,
        {},
        ONE_RUNNING,
        4,
        [0.0] * 4,
        [40.0] * 4,
        dict(
            finish=[40.0, 80.0, 120.0, 160.0],
            billed=181.0 + 180.0,
            seen=[(0, 4, 1), (0, 4, 1), (0, 3, 2)],
        ),
    ),
    (
        # two slots, four held: job2 waits for the first slot to free (10),
        # job3 for the next (15), in the order delivered
        "buffered jobs start on their dyno's next free slot, FIFO",
        lambda o: 1,
        dict(concurrency=2, minimum=1),
        ONE_RUNNING,
        2,
        [0.0] * 4,
        [10.0, 30.0, 5.0, 5.0],
        dict(finish=[10.0, 30.0, 15.0, 20.0], billed=0.0, end=30.0, seen=[(0, 4, 1)]),
    ),
    (
        # depth 2 each, in turn: d0 job0 (running) and job2, d1 job1 and job3;
        # job4 and job5 stay ready. d1, stopped at 1, hands job3 back to the
        # front, ahead of job4; it finishes job1 at 10 and stops. d0 runs
        # job2 from 50, then job3, job4, job5. Poll 270 sees none: d0 billed
        # 0..271. No redelivery: job3 never started.
        "a stopped dyno's buffered jobs go back ahead of the queue",
        one_then_on_demand,
        {},
        TWO_RUNNING,
        2,
        [0.0] * 6,
        [50.0, 10.0, 50.0, 50.0, 50.0, 50.0],
        dict(
            finish=[50.0, 10.0, 100.0, 150.0, 200.0, 250.0],
            billed=10.0 + 271.0,
            redeliveries=0,
            seen=[(2, 4, 2), (3, 2, 1)],
        ),
    ),
    (
        # as above, but job1 outlasts the grace: killed at 31 and back to the
        # front, ahead of job3 (publish order). d0 runs job2 50..100, then
        # job1, job3, job4, job5. One redelivery, job1's.
        "a kill at the grace counts; a hand-back does not",
        one_then_on_demand,
        {},
        TWO_RUNNING,
        2,
        [0.0] * 6,
        [50.0, 100.0, 50.0, 50.0, 50.0, 50.0],
        dict(
            finish=[50.0, 200.0, 100.0, 250.0, 300.0, 350.0],
            billed=31.0 + 361.0,
            redeliveries=1,
            seen=[(2, 4, 2), (3, 3, 1)],
        ),
    ),
    (
        # depth 2 x 3 = 6 of the ten 100 s jobs delivered, 2 running
        "unacked counts the buffered jobs",
        lambda o: 1,
        dict(concurrency=2, minimum=1),
        ONE_RUNNING,
        3,
        [0.0] * 10,
        [100.0] * 10,
        dict(
            finish=[100.0 * (1 + i // 2) for i in range(10)],
            billed=0.0,
            seen=[(4, 6, 1), (4, 6, 1), (4, 6, 1), (4, 6, 1), (2, 6, 1)],
        ),
    ),
]


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize(
    ("rule", "settings_", "cfg", "depth", "arrivals", "durations", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_hand_checked_cases(
    sim: str,
    rule: Callable[[Observation], int],
    settings_: dict[str, Any],
    cfg: SimConfig,
    depth: int,
    arrivals: list[float],
    durations: list[float],
    expected: dict[str, Any],
) -> None:
    script = Scripted(rule)
    r = SIMULATORS[sim](script, role(**settings_), arrivals, durations, config=cfg, prefetch=depth)
    assert r.done == r.jobs == len(arrivals) and not r.capped
    assert list(r.finish) == pytest.approx(expected["finish"])
    assert r.dyno_hours * 3600 == pytest.approx(expected["billed"])
    seen = [(o.ready, o.unacked, o.consumers) for o in script.seen]
    assert seen[: len(expected["seen"])] == expected["seen"]
    for name in ("redeliveries", "end"):
        if name in expected:
            assert getattr(r, name) == pytest.approx(expected[name]), name


@pytest.mark.parametrize("sim", SIMULATORS)
def test_prefetch_1_is_the_default(sim: str) -> None:
    arrivals = [i * 0.7 for i in range(300)]
    durations = [0.5 + (i * 7 % 11) for i in range(300)]
    simulate = SIMULATORS[sim]
    default = simulate(Scripted(two_while_work), role(concurrency=2), arrivals, durations)
    one = simulate(Scripted(two_while_work), role(concurrency=2), arrivals, durations, prefetch=1)
    assert default == one and default.finish == one.finish


@pytest.mark.parametrize("sim", SIMULATORS)
def test_a_prefetch_below_1_is_refused(sim: str) -> None:
    with pytest.raises(ValueError, match="prefetch"):
        SIMULATORS[sim](Scripted(two_while_work), role(), [0.0], [1.0], prefetch=0)


@settings(max_examples=40, deadline=None)
@given(
    jobs=st.lists(st.tuples(st.floats(0, 300), st.floats(0.1, 80)), min_size=1, max_size=40),
    conc=st.integers(1, 3),
    depth=st.sampled_from([2, 4, 8]),
    wobble=st.integers(0, 10**6),
)
def test_every_job_finishes_once_whatever_the_prefetch(
    jobs: list[tuple[float, float]], conc: int, depth: int, wobble: int
) -> None:
    # Erratic scaling for 10 minutes (handing buffered jobs back and killing
    # running ones), then one dyno while work waits: on both simulators every
    # job is done, none before it could be, and billing covers the work.
    jobs.sort()
    arrivals, durations = [t for t, _ in jobs], [d for _, d in jobs]

    rule = erratic(wobble)

    for simulate in SIMULATORS.values():
        r = simulate(
            Scripted(rule), role(concurrency=conc), arrivals, durations, seed=wobble, prefetch=depth
        )
        assert r.done == r.jobs and not r.capped
        assert all(f >= a + d - 1e-9 for f, a, d in zip(r.finish, arrivals, durations, strict=True))
        assert r.dyno_hours * 3600 >= sum(durations) / conc - 1e-6


def test_the_trace_carries_its_prefetch_to_both_simulators() -> None:
    base = Trace("t", [0.0] * 4, 40.0, 0.0, 300.0, 1, 1, 2, boot=30.0, length=0.0)
    for simulate in (run_trace, run_trace_steps):
        finish = {
            depth: simulate(
                Scripted(lambda o: 2),
                dataclasses.replace(base, prefetch=depth),
                config=ONE_RUNNING,
            ).finish
            for depth in (1, 4)
        }
        assert finish[1] == pytest.approx((40.0, 71.0, 80.0, 111.0))
        assert finish[4] == pytest.approx((40.0, 80.0, 120.0, 160.0))


# Boot times come from each simulator's own stream: agreement is on means over
# seeds, as for the public traces. One scenario of each shape the family draws:
# a steady stream the fastest misses (prefetch 4), on/off (8), imports (2).
FAMILY_SCENARIOS = (0, 2, 3)
DYNO_HOURS_REL = 0.05
WITHIN_POINTS = 1.0


@pytest.mark.parametrize("index", FAMILY_SCENARIOS)
def test_the_two_simulators_agree_on_the_prefetch_family(index: int) -> None:
    trace = with_poll(prefetch(index), 30.0)
    assert trace.prefetch > 1
    events = [run_trace(Fastest(trace.role()), trace, seed=s) for s in range(2)]
    steps = [run_trace_steps(Fastest(trace.role()), trace, seed=s) for s in range(2)]
    hours_e = statistics.mean(r.dyno_hours for r in events)
    hours_s = statistics.mean(r.dyno_hours for r in steps)
    assert hours_s == pytest.approx(hours_e, rel=DYNO_HOURS_REL)
    within_e = statistics.mean(r.within for r in events)
    within_s = statistics.mean(r.within for r in steps)
    assert 100 * abs(within_s - within_e) <= WITHIN_POINTS
    assert all(r.done == r.jobs for r in events + steps)
