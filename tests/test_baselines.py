"""The peers' rules, each on hand-checked polls."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest

from guvscale.rules.types import Role, ScheduleWindow, Step
from guvscale.scaling.types import Observation, Policy
from guvscale.simulate import EPOCH
from guvscale.simulate.baselines import (
    AtFirstSight,
    Dynomatic,
    Fixed,
    HireFire,
    Keda,
    Standby,
    derived_steps,
    per_dyno,
)
from guvscale.simulate.policies import PEERS, all_policies


def role(**kw: Any) -> Role:
    base: dict[str, Any] = dict(
        name="w",
        worker="w",
        queue="w",
        processing=1.0,
        stddev=0.3,
        deadline=180.0,
        concurrency=1,
        minimum=0,
        maximum=20,
    )
    base.update(kw)
    return Role(**base)


def obs(
    t: float, n: int | None, current: int | None, now: dt.datetime | None = None
) -> Observation:
    return Observation(t=t, ready=n, unacked=None if n is None else 0, current=current, now=now)


def test_per_dyno_is_the_backlog_one_dyno_clears_in_the_slack() -> None:
    # target = 180 - 2.326 x 0.3 = 179.30; one dyno clears 178.3 jobs in the slack
    assert per_dyno(role()) == pytest.approx(178.30, abs=0.01)
    assert per_dyno(role(concurrency=4)) == pytest.approx(4 * 178.30, abs=0.05)
    # an explicit target wins; never below one job
    assert per_dyno(role(target=11.0)) == pytest.approx(10.0)
    assert per_dyno(role(processing=60.0, stddev=30.0, deadline=61.0)) == 1.0


# -- KEDA --------------------------------------------------------------------


def test_keda_desired_is_messages_over_value() -> None:
    assert Keda(role(), value=10).decide(obs(0, 95, 0)).desired == 10
    assert Keda(role(), value=10).decide(obs(0, 1, 0)).desired == 1
    assert Keda(role(), value=10).decide(obs(0, 10_000, 0)).desired == 20  # max


@pytest.mark.parametrize(("n", "desired"), [(109, 10), (91, 10), (111, 12), (150, 15)])
def test_keda_no_change_within_ten_percent(n: int, desired: int) -> None:
    k = Keda(role(), value=10)
    k.decide(obs(0, 100, 0))
    assert k.decide(obs(30, n, 10)).desired == desired


def test_keda_scale_down_takes_the_highest_of_the_last_300_s() -> None:
    k = Keda(role(), value=10)
    assert k.decide(obs(0, 200, 0)).desired == 20
    for t in range(30, 300, 30):
        assert k.decide(obs(t, 50, 20)).desired == 20, t
    assert k.decide(obs(300, 50, 20)).desired == 5


def test_keda_to_zero_only_300_s_after_the_last_message() -> None:
    k = Keda(role(), value=10)
    assert k.decide(obs(0, 5, 0)).desired == 1
    for t in range(30, 300, 30):
        assert k.decide(obs(t, 0, 1)).desired == 1, t
    assert k.decide(obs(300, 0, 1)).desired == 0


def test_keda_polls_every_30_s_and_holds_without_a_reading() -> None:
    k = Keda(role(), value=10)
    assert k.decide(obs(0, 50, 0)).desired == 5
    assert k.decide(obs(10, 500, 5)).desired == 5  # not polled yet
    assert k.decide(obs(30, None, 5)).desired == 5
    assert k.decide(obs(60, 500, 5)).desired == 20


# -- HireFire ----------------------------------------------------------------


def test_hirefire_checks_each_minute_and_goes_up_at_once() -> None:
    h = HireFire(role(), ratio=10)
    assert h.decide(obs(0, 95, 0)).desired == 10
    assert h.decide(obs(30, 1000, 10)).desired == 10  # between checks
    assert h.decide(obs(60, 1000, 10)).desired == 20


def test_hirefire_down_only_after_three_quiet_checks() -> None:
    h = HireFire(role(), ratio=10)
    h.decide(obs(0, 100, 0))
    assert h.decide(obs(60, 10, 10)).desired == 10
    assert h.decide(obs(120, 30, 10)).desired == 10
    assert h.decide(obs(180, 20, 10)).desired == 3  # highest of 1, 3, 2


def test_hirefire_a_busy_check_resets_the_quiet_count() -> None:
    h = HireFire(role(), ratio=10)
    h.decide(obs(0, 100, 0))
    h.decide(obs(60, 0, 10))
    h.decide(obs(120, 0, 10))
    assert h.decide(obs(180, 100, 10)).desired == 10
    assert h.decide(obs(240, 0, 10)).desired == 10
    assert h.decide(obs(300, 0, 10)).desired == 10
    assert h.decide(obs(360, 0, 10)).desired == 0


def test_hirefire_holds_without_a_reading() -> None:
    h = HireFire(role(), ratio=10)
    assert h.decide(obs(0, None, 4)).desired == 4


def test_hirefire_ratio_is_derived_from_the_role() -> None:
    assert HireFire(role()).ratio == 178


# -- dynomatic ---------------------------------------------------------------


STEPS = (Step(0, 0), Step(10, 2), Step(100, 5))


@pytest.mark.parametrize(("n", "dynos"), [(0, 0), (9, 0), (10, 2), (99, 2), (100, 5), (10**6, 5)])
def test_dynomatic_highest_step_at_or_below_the_jobs(n: int, dynos: int) -> None:
    assert Dynomatic(role(steps=STEPS)).decide(obs(0, n, 0)).desired == dynos


def test_dynomatic_goes_down_at_once_and_clamps() -> None:
    d = Dynomatic(role(steps=(Step(10, 2), Step(100, 50)), minimum=1, maximum=30))
    assert d.decide(obs(0, 500, 1)).desired == 30
    assert d.decide(obs(30, 0, 30)).desired == 1  # below the lowest step: minimum


def test_dynomatic_derived_table_is_ceil_of_jobs_over_per_dyno() -> None:
    r = role(maximum=25)
    d, v = Dynomatic(r), per_dyno(r)
    assert d.steps == derived_steps(r)
    for n in range(0, 5000, 7):
        assert d.decide(obs(0, n, 0)).desired == min(25, math.ceil(n / v)), n


def test_dynomatic_holds_without_a_reading() -> None:
    assert Dynomatic(role(steps=STEPS)).decide(obs(0, None, 3)).desired == 3


# -- common ------------------------------------------------------------------


def test_schedule_minimum_applies_to_every_peer() -> None:
    monday = ScheduleWindow(days=frozenset({1}), start=dt.time(0), end=dt.time(23), minimum=3)
    r = role(schedule=(monday,))
    for name, make in PEERS.items():
        assert make(r).decide(obs(0, 0, 0, now=EPOCH)).desired == 3, name
        later = EPOCH + dt.timedelta(days=1)
        assert make(r).decide(obs(0, 0, 0, now=later)).desired == 0, name


def script() -> list[Observation]:
    ns = [0, 40, 400, 3000, 2500, 900, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    return [obs(30 * i, n, None) for i, n in enumerate(ns)]


@pytest.mark.parametrize("name", list(PEERS))
def test_saved_and_restored_state_decides_the_same(name: str) -> None:
    r = role()
    polls = script()

    def drive(p: Policy, batch: list[Observation], current: int) -> tuple[list[int], int]:
        out = []
        for o in batch:
            current = p.decide(Observation(o.t, o.ready, o.unacked, current=current)).desired
            out.append(current)
        return out, current

    whole, _ = drive(PEERS[name](r), polls, 0)
    first = PEERS[name](r)
    head, current = drive(first, polls[:6], 0)
    second = PEERS[name](r)
    second.restore(json.loads(json.dumps(first.state())))
    tail, _ = drive(second, polls[6:], current)
    assert head + tail == whole
    assert max(whole) > 0


def test_all_policies_without_the_scaler_are_the_peers() -> None:
    assert list(all_policies(role(), with_scaler=False)) == ["keda", "hirefire", "dynomatic"]


def test_fixed_always_answers_its_count() -> None:
    f = Fixed(7)
    assert [f.decide(obs(t, n, 0)).desired for t, n in [(0, 0), (30, 10**6), (60, None)]] == [7] * 3


@pytest.mark.parametrize(
    ("ready", "unacked", "desired"),
    [
        (0, 0, 2),  # nothing waits: the wrapped policy's answer
        (0, 30, 2),  # jobs run, none waits: still the wrapped answer
        (1, 0, 20),  # a job waits: the maximum
        (500, 10, 20),
        (None, None, 2),  # no reading: the wrapped policy decides (Fixed holds 2)
    ],
)
def test_at_first_sight_is_the_maximum_whenever_jobs_wait(
    ready: int | None, unacked: int | None, desired: int
) -> None:
    policy = AtFirstSight(role(), Fixed(2))
    answer = policy.decide(Observation(t=0.0, ready=ready, unacked=unacked, current=2))
    assert answer.desired == desired


def test_at_first_sight_keeps_the_wrapped_policys_state() -> None:
    inner = Keda(role())
    policy = AtFirstSight(role(), inner)
    for o in script()[:5]:
        policy.decide(o)
    again = AtFirstSight(role(), Keda(role()))
    again.restore(json.loads(json.dumps(policy.state())))
    assert again.state() == inner.state() != Keda(role()).state()


@pytest.mark.parametrize(
    ("share", "ready", "unacked", "desired"),
    [
        (0.5, 0, 0, 2),  # no job waits or runs: the wrapped policy's answer
        (0.5, 0, 1, 11),  # one job runs: half the way from the minimum (2) to 20
        (0.5, 40, 0, 11),
        (1.0, 3, 3, 20),  # all the way: the fastest's fleet
        (0.0, 3, 3, 2),  # none: the wrapped answer
        (0.05, 0, 1, 3),  # any share above none holds at least a dyno more
        (0.5, None, None, 2),  # no reading: the wrapped policy decides
    ],
)
def test_standby_holds_a_share_of_the_maximum_while_jobs_wait_or_run(
    share: float, ready: int | None, unacked: int | None, desired: int
) -> None:
    policy = Standby(role(minimum=2), Fixed(2), share)
    answer = policy.decide(Observation(t=0.0, ready=ready, unacked=unacked, current=2))
    assert answer.desired == desired


def test_standby_never_lowers_the_wrapped_answer() -> None:
    assert Standby(role(), Fixed(15), 0.5).decide(obs(0, 5, 15)).desired == 15


@pytest.mark.parametrize(
    ("boot", "deadline", "desired"),
    [
        (64.0, 50.0, 10),  # boot plus a poll use up the start-by: held
        (10.0, 180.0, 2),  # reacting is in time: the wrapped answer
    ],
)
def test_standby_for_slow_roles_only_holds_where_reacting_is_too_slow(
    boot: float, deadline: float, desired: int
) -> None:
    slow = role(boot=boot, deadline=deadline, pollinterval=30.0)
    answer = Standby(slow, Fixed(2), 0.5, slow_only=True).decide(obs(0, 5, 2))
    assert answer.desired == desired
