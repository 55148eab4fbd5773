"""What `load` makes of good rules: defaults, '*', short names, the derived target."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from statistics import NormalDist

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guvscale.rules import Role, RulesError, ScheduleWindow, Step, derive_target, describe, load

GUVSCALE_EXAMPLE = """\
emailsender:          # Dyno role to scale
  queue: "send-email" # The AMQP queue name
  deadline: 180       # 3 minutes, in seconds
  minimum: 0
  maximum: 5
  concurrency: 10
  processing: 0.300   # 300 ms
"""


def one(doc: str, name: str = "a") -> Role:
    return load(doc)[name]


def test_guvscales_own_example_loads_as_is() -> None:
    role = one(GUVSCALE_EXAMPLE, "emailsender")
    assert (role.queue, role.worker) == ("send-email", "emailsender")
    assert (role.deadline, role.minimum, role.maximum) == (180.0, 0, 5)
    assert (role.concurrency, role.processing, role.stddev) == (10, 0.3, 0.15)
    assert role.target == pytest.approx(180 - 2.3263 * 0.15, abs=1e-3)
    assert role.line == 1


def test_every_default_of_an_empty_role() -> None:
    role = one("a: {}\n")
    assert role == Role(
        name="a",
        worker="a",
        queue="a",
        app=None,
        processing=10.0,
        stddev=5.0,
        deadline=60.0,
        percentile=99.0,
        target=pytest.approx(48.3683, abs=1e-4),  # type: ignore[arg-type]
        concurrency=1,
        minimum=1,
        maximum=5,
        boot=30.0,
        dynosize="standard-1x",
        pollinterval=30.0,
        history=120.0,
        model="guvscale",
        steps=(),
        workers=(),
        schedule=(),
        timezone="UTC",
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ("p: 2", {"processing": 2.0}),
        ("d: 90", {"deadline": 90.0}),
        ("min: 0", {"minimum": 0}),
        ("max: 9", {"maximum": 9}),
        ("w: mailer", {"worker": "mailer"}),
        ("q: send-email", {"queue": "send-email"}),
        ("processing: 2", {"processing": 2.0}),
        ("stddev: 0", {"stddev": 0.0}),
        ("percentile: 99.9", {"percentile": 99.9}),
        ("target: 40", {"target": 40.0}),
        ("concurrency: 8", {"concurrency": 8}),
        ("boot: 12.5", {"boot": 12.5}),
        ("dynosize: Performance-L", {"dynosize": "performance-l"}),
        ("app: my-app-1", {"app": "my-app-1"}),
        ("pollinterval: 10", {"pollinterval": 10.0}),
        ("history: 300", {"history": 300.0}),
        ("model: guv", {"model": "guv"}),
        ("model: GuvScale", {"model": "guvscale"}),
        ("timezone: Europe/Paris", {"timezone": "Europe/Paris"}),
        ("queue: 2024", {"queue": "2024"}),  # a number is a fine queue name, as written
        ("queue: 'on'", {"queue": "on"}),
        ("maximum: 3.0", {"maximum": 3}),  # whole floats are accepted as counts
        ("dynosize: eco\n  max: 1", {"dynosize": "eco", "maximum": 1}),
    ],
)
def test_each_key_and_short_name(settings: str, expected: dict[str, object]) -> None:
    role = one(f"a:\n  {settings}\n")
    assert {k: getattr(role, k) for k in expected} == expected
    for k, v in expected.items():
        assert type(getattr(role, k)) is type(v), k


@pytest.mark.parametrize(
    ("p", "stddev", "d", "pct", "target"),
    [
        (10, None, 60, 99, 48.3683),  # guv's defaults: 60 - 2.326 * 5
        (10, 5, 60, 95, 60 - 1.6449 * 5),
        (10, 5, 60, 50, 60.0),  # the median needs no margin
        (2, None, 10, 99, 10 - 2.3263 * 1),  # stddev follows processing
        (60, 30, 61, 99, 61 - 2.32635 * 30),  # guv's reference case: unreachable, a warning
        (0.3, None, 180, 99, 179.6510),
    ],
)
def test_derived_target_matches_guv(
    p: float, stddev: float | None, d: float, pct: float, target: float
) -> None:
    sd = "" if stddev is None else f"\n  stddev: {stddev}"
    doc = f"a:\n  p: {p}\n  d: {d}\n  percentile: {pct}{sd}\n"
    role = one(doc)
    assert role.target == pytest.approx(target, abs=1e-3)
    assert role.target == derive_target(d, pct, role.stddev)


def test_derive_target_uses_the_normal_quantile() -> None:
    z = NormalDist().inv_cdf(0.99)
    assert derive_target(60, 99, 5) == 60 - z * 5
    assert round(z, 3) == 2.326


def test_explicit_target_wins_over_the_derived_one() -> None:
    assert one("a: {p: 10, target: 20}\n").target == 20.0


def test_defaults_role_applies_wherever_written_and_the_role_wins() -> None:
    roles = load(
        "mailer:\n  d: 120\n"
        "'*':\n  deadline: 300\n  boot: 10\n  p: 20\n  timezone: Europe/Paris\n"
        "thumbs:\n  p: 4\n"
    )
    assert list(roles) == ["mailer", "thumbs"]  # '*' is no role
    mailer, thumbs = roles["mailer"], roles["thumbs"]
    assert (mailer.deadline, mailer.boot, mailer.processing) == (120.0, 10.0, 20.0)
    assert (thumbs.deadline, thumbs.boot, thumbs.processing) == (300.0, 10.0, 4.0)
    # stddev defaults to half the role's own processing, not the '*' one
    assert (mailer.stddev, thumbs.stddev) == (10.0, 2.0)
    assert mailer.timezone == thumbs.timezone == "Europe/Paris"
    assert (mailer.line, thumbs.line) == (1, 8)


def test_defaults_role_can_set_stddev_and_target_for_all() -> None:
    roles = load("'*': {stddev: 1, target: 30}\na: {}\nb: {p: 5}\n")
    assert [(r.stddev, r.target) for r in roles.values()] == [(1.0, 30.0), (1.0, 30.0)]


def test_roles_keep_the_order_written() -> None:
    names = ["zeta", "alpha", "mid", "beta"]
    assert list(load("".join(f"{n}: {{}}\n" for n in names))) == names


def test_eco_workers_set_the_maximum_and_the_worker() -> None:
    role = one("a:\n  dynosize: eco\n  workers: [w1, w2, w3]\n  min: 0\n")
    assert role.workers == ("w1", "w2", "w3")
    assert (role.minimum, role.maximum, role.worker) == (0, 3, "w1")


def test_a_maximum_from_defaults_is_capped_by_a_roles_workers() -> None:
    roles = load("'*': {max: 10}\na: {workers: [w1, w2]}\nb: {}\n")
    assert (roles["a"].maximum, roles["b"].maximum) == (2, 10)


def test_a_smaller_maximum_with_workers_is_kept() -> None:
    assert one("a: {workers: [w1, w2, w3], max: 2}\n").maximum == 2


def test_steps_are_read_in_order() -> None:
    role = one(
        "a:\n  max: 10\n  steps:\n    - {at_least: 0, dynos: 1}\n    - {at_least: 10, dynos: 5}\n"
    )
    assert role.steps == (Step(0, 1), Step(10, 5))


def test_schedule_windows_are_read() -> None:
    role = one(
        "a:\n"
        "  timezone: America/New_York\n"
        "  schedule:\n"
        "    - days: weekdays\n      from: '08:00'\n      to: '18:00'\n      min: 2\n"
        "    - {days: [sat, Sunday], from: '22:00', to: '24:00', max: 1}\n"
        "    - {from: '9:30', to: '09:45', minimum: 0, maximum: 3}\n"
    )
    assert role.schedule == (
        ScheduleWindow(frozenset({1, 2, 3, 4, 5}), dt.time(8), dt.time(18), minimum=2),
        ScheduleWindow(frozenset({6, 7}), dt.time(22), dt.time(0), maximum=1),
        ScheduleWindow(frozenset(range(1, 8)), dt.time(9, 30), dt.time(9, 45), 0, 3),
    )


def test_summary_line() -> None:
    role = one(GUVSCALE_EXAMPLE, "emailsender")
    assert describe(role) == (
        "emailsender: queue send-email, 0–5 dynos, target 179.7 s, "  # noqa: RUF001
        "10 jobs per dyno, jobs 0.3 s, deadline 180 s"
    )


# Anything at all, and YAML-shaped things near the format: load answers with
# roles or with RulesError, never another exception.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["eco", "mon-fri", "8:00", "'08:00'", "p:60", "*x", "&a", "", "~", "[", "{"]),
    st.text(max_size=8),
)
_keys = st.sampled_from(
    [
        "p",
        "d",
        "min",
        "max",
        "stddev",
        "target",
        "workers",
        "steps",
        "schedule",
        "timezone",
        "dynosize",
        "worker",
        "from",
        "to",
        "days",
        "at_least",
        "dynos",
        "'*'",
        "x",
    ]
)


def _yaml(value: object, indent: int = 0) -> str:
    pad = " " * indent
    if isinstance(value, dict):
        return "".join(f"\n{pad}{k}: {_yaml(v, indent + 2)}" for k, v in value.items()) or "{}"
    if isinstance(value, list):
        return "".join(f"\n{pad}- {_yaml(v, indent + 2)}" for v in value) or "[]"
    return str(value)


_trees = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), _trees.map(lambda t: _yaml({"a": t, "'*'": t}))))
def test_load_never_fails_other_than_with_rules_error(text: str) -> None:
    try:
        roles = load(text)
    except RulesError as exc:
        assert exc.errors
        assert all(isinstance(e.message, str) and e.message for e in exc.errors)
    else:
        assert all(isinstance(r, Role) for r in roles.values())


def test_the_example_file_loads() -> None:
    path = Path(__file__).parent.parent / "examples" / "rules.yaml"
    roles = load(path.read_text(encoding="utf-8"))
    assert list(roles) == ["emailsender", "imageresize", "reports", "importer", "thumbnails"]
    assert all(r.boot == 20.0 and r.timezone == "Europe/Paris" for r in roles.values())
    assert roles["reports"].model == "guv"
    assert roles["thumbnails"].maximum == 3
