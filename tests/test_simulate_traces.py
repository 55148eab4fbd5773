"""Public trace generators and the CSV loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from guvscale.rules.types import Role
from guvscale.simulate import PUBLIC, TraceError, load_csv, parse_csv, public
from guvscale.simulate.traces import derived_target


def count_between(arrivals: list[float], a: float, b: float) -> int:
    return sum(1 for t in arrivals if a <= t < b)


@pytest.mark.parametrize(
    ("name", "expected", "tolerance"),
    [
        ("burst3k", 3000, 0.0),
        ("steady", 30 * 3600, 0.02),
        ("diurnal", 61 * 7200, 0.02),
        ("onoff", 25 * 300 * 6, 0.03),
        ("slowjobs", 0.5 * 14400, 0.06),
    ],
)
def test_job_counts(name: str, expected: float, tolerance: float) -> None:
    n = len(public(name).arrivals)
    assert abs(n - expected) <= tolerance * expected


@pytest.mark.parametrize("name", list(PUBLIC))
def test_arrivals_sorted_inside_the_window_and_seeded(name: str) -> None:
    a, b, c = public(name, seed=1), public(name, seed=1), public(name, seed=2)
    assert a.arrivals == sorted(a.arrivals)
    assert a.arrivals[0] >= 0 and a.arrivals[-1] <= max(a.length, 0.0)
    assert a.arrivals == b.arrivals
    if name != "burst3k":  # the burst has no randomness in its arrivals
        assert a.arrivals != c.arrivals


@pytest.mark.parametrize("name", ["steady", "onoff", "spiky", "burst3k"])
def test_scale_multiplies_the_load(name: str) -> None:
    one, two = len(public(name).arrivals), len(public(name, scale=2.0).arrivals)
    assert two == pytest.approx(2 * one, rel=0.05)


def test_burst3k_is_all_at_once() -> None:
    t = public("burst3k")
    assert set(t.arrivals) == {0.0}
    assert (t.mean, t.cv, t.deadline, t.concurrency, t.minimum, t.maximum) == (
        1.0,
        0.3,
        180.0,
        1,
        0,
        25,
    )


def test_diurnal_rate_follows_one_cosine_cycle() -> None:
    arr = public("diurnal").arrivals
    assert count_between(arr, 0, 60) / 60 == pytest.approx(2.1, abs=0.6)
    assert count_between(arr, 3570, 3630) / 60 == pytest.approx(120, rel=0.05)
    assert count_between(arr, 7140, 7200) / 60 == pytest.approx(2.1, abs=0.6)


def test_onoff_is_silent_between_bursts() -> None:
    arr = public("onoff").arrivals
    for k in range(6):
        on = count_between(arr, k * 1800, k * 1800 + 300)
        assert on == pytest.approx(25 * 300, rel=0.06)
        assert count_between(arr, k * 1800 + 300, (k + 1) * 1800) == 0


def test_spiky_has_eight_imports_over_a_light_background() -> None:
    arr = public("spiky").arrivals
    per_minute = [count_between(arr, m * 60, (m + 1) * 60) for m in range(180)]
    busy = [m for m, c in enumerate(per_minute) if c > 400]
    runs = sum(1 for i, m in enumerate(busy) if i == 0 or busy[i - 1] != m - 1)
    assert 4 <= runs <= 8  # an import can span two minutes; two can overlap
    assert sum(per_minute[m] for m in busy) >= 8 * 500
    quiet = sorted(per_minute)[len(per_minute) // 2]
    assert quiet == pytest.approx(120, rel=0.25)


def test_slowjobs_follows_an_hourly_sine() -> None:
    arr = public("slowjobs").arrivals
    peak = count_between(arr, 600, 1200)  # around t = 900, rate 0.95
    trough = count_between(arr, 2400, 3000)  # around t = 2700, rate 0.05
    assert peak / 600 == pytest.approx(0.93, rel=0.15)
    assert trough / 600 < 0.15


def test_role_of_a_trace() -> None:
    role = public("steady").role()
    assert (role.processing, role.stddev, role.deadline) == (0.3, 0.15, 60.0)
    assert (role.concurrency, role.minimum, role.maximum) == (10, 0, 20)
    assert (role.boot, role.pollinterval) == (30.0, 30.0)
    assert role.target == pytest.approx(60 - 2.3263 * 0.15, abs=1e-3)


def test_derived_target_never_at_or_below_one_job() -> None:
    assert derived_target(61, 99, 30, 60) == pytest.approx(60.01)


def test_unknown_public_trace() -> None:
    with pytest.raises(TraceError, match=r"unknown trace 'nope'.*burst3k"):
        public("nope")


# -- CSV ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "arrivals", "durations"),
    [
        ("0\n1.5\n3\n", [0.0, 1.5, 3.0], None),
        ("3\n0\n\n# a comment\n1\n", [0.0, 1.0, 3.0], None),
        ("t\n2\n1\n", [1.0, 2.0], None),
        ("t,duration\n2,0.5\n1,4\n", [1.0, 2.0], [4.0, 0.5]),
        ("id,T,Duration,queue\na,5,1,x\nb,0,2,x\n", [0.0, 5.0], [2.0, 1.0]),
        ("1,0.2\n0,0.1\n", [0.0, 1.0], [0.1, 0.2]),
    ],
)
def test_csv_good(text: str, arrivals: list[float], durations: list[float] | None) -> None:
    assert parse_csv(text) == (arrivals, durations)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no jobs"),
        ("# only a comment\n\n", "no jobs"),
        ("t,duration\n", "only a header"),
        ("time,duration\n1,2\n", r"x\.csv:1: the header needs a 't' column"),
        ("0\nsoon\n", r"x\.csv:2: publish time 'soon' is not a number"),
        ("0\n-1\n", r"x\.csv:2: publish time -1 is negative"),
        ("0\nnan\n", "not a finite number"),
        ("t,duration\n0,1\n1,0\n", r"x\.csv:3: duration 0 must be above 0 s"),
        ("t,duration\n0,1\n1,\n", r"x\.csv:3: duration missing"),
        ("t,duration\n0,fast\n", r"x\.csv:2: duration 'fast' is not a number"),
        ("0,1,2\n", r"x\.csv:1: 3 columns without a header"),
        ("a,t\n1\n", r"x\.csv:2: missing the publish time"),
        # Unix times simulated from 0 ran 57 million polls with no word said.
        ("1700000000\n1700000005\n", r"look like clock times: subtract the first \(1\.7e\+09\)"),
        ("0\n2700000\n", "a trace spans at most 31 days"),
    ],
)
def test_csv_bad(text: str, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        parse_csv(text, "x.csv")


def csv_role() -> Role:
    return Role(
        name="w",
        worker="w",
        queue="w",
        processing=4.0,
        stddev=2.0,
        deadline=90.0,
        concurrency=3,
        minimum=0,
        maximum=7,
    )


def test_load_csv_takes_settings_from_the_role(tmp_path: Path) -> None:
    f = tmp_path / "jobs.csv"
    f.write_text("t\n0\n10\n")
    t = load_csv(f, csv_role())
    assert t.name == "jobs" and t.arrivals == [0.0, 10.0] and t.durations is None
    assert (t.mean, t.cv, t.deadline, t.concurrency, t.maximum) == (4.0, 0.5, 90.0, 3, 7)


def test_load_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read"):
        load_csv(tmp_path / "absent.csv", csv_role())


def test_load_csv_binary_file(tmp_path: Path) -> None:
    f = tmp_path / "b.csv"
    f.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(TraceError, match="not a UTF-8 text file"):
        load_csv(f, csv_role())
