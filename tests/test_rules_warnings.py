"""What loads but deserves a word: guv's unmeetable deadlines, roles too slow to react."""

from __future__ import annotations

from pathlib import Path

import pytest

from guvscale.cli import main
from guvscale.plans import PLANS
from guvscale.rules import check, load, load_with_warnings
from guvscale.rules.parser import FASTEST_POLL, SLOWEST_POLL
from guvscale.scaling import Observation, Scaler

# (document, [(role, key, line, words the warning must contain)])
Expected = list[tuple[str | None, str | None, int | None, str]]

OFFICE = "days: daily, from: '08:00', to: '19:00'"

WARNINGS: list[tuple[str, str, Expected]] = [
    (
        "derived target not above processing",
        "a:\n  p: 60\n  stddev: 5\n",
        [
            (
                "a",
                "processing",
                2,
                "target 48.4 s (deadline 60 − 2.33 × stddev 5) is not more than processing "  # noqa: RUF001
                "60 s, so jobs cannot finish in time; scaling as guv does, with target 60.01 s",
            )
        ],
    ),
    (
        "derived target: blame the deadline the role sets",
        "a:\n  p: 30\n  d: 40\n",
        [("a", "deadline", 3, "target 5.1 s (deadline 40 − 2.33 × stddev 15)")],  # noqa: RUF001
    ),
    (
        "explicit target not above processing",
        "a:\n  p: 10\n  target: 5\n",
        [("a", "target", 3, "target 5 s is not more than processing 10 s")],
    ),
    (
        "target problem from '*' is blamed on the role, at the '*' line",
        "'*':\n  p: 100\nmailer: {}\n",
        [("mailer", "processing", 2, "not more than processing 100 s")],
    ),
    (
        "boot plus a poll no sooner than the slack",
        "a:\n  p: 1\n  d: 40\n  boot: 60\n  min: 0\n",
        [("a", "boot", 4, "only dynos already running can meet a sudden burst")],
    ),
    ("enough slack to react: no warning", "a:\n  p: 1\n  d: 300\n  boot: 60\n", []),
    (
        # The worker polls at the plan's interval: 1 s hid the warning below.
        "a pollinterval the plan replaces, and a reaction judged at a plan's poll",
        "a:\n  p: 1\n  d: 40\n  boot: 30\n  min: 0\n  pollinterval: 1\n",
        [
            ("a", "boot", 4, "only dynos already running can meet a sudden burst"),
            ("a", "pollinterval", 6, "pollinterval is the add-on plan's when scaling"),
        ],
    ),
    (
        "a schedule's minimum above the maximum lifts the cap in its window",
        f"a:\n  d: 300\n  max: 3\n  schedule:\n    - {{{OFFICE}, min: 10}}\n",
        [("a", "schedule", 4, "schedule entry 1 keeps at least 10 dynos, more than maximum 3")],
    ),
    (
        "a window raising both bounds says so: no warning",
        f"a:\n  d: 300\n  max: 3\n  schedule:\n    - {{{OFFICE}, min: 10, max: 10}}\n",
        [],
    ),
    ("a fixed size has nothing to react with", "a:\n  d: 40\n  min: 3\n  max: 3\n", []),
]


@pytest.mark.parametrize(("doc", "expected"), [pytest.param(d, e, id=n) for n, d, e in WARNINGS])
def test_each_warning_loads_the_role_and_says_where(doc: str, expected: Expected) -> None:
    roles, warnings = load_with_warnings(doc)
    assert roles and load(doc).keys() == roles.keys()
    assert check(doc) == []
    assert [(w.role, w.key, w.line) for w in warnings] == [(r, k, n) for r, k, n, _ in expected]
    for w, (*_, words) in zip(warnings, expected, strict=True):
        assert words in w.message, w.message


def test_guvs_reference_case_loads_and_scales_to_guvs_number() -> None:
    # guv: P 60, D 61, stddev 30, max 4, N 40 -> 4 (T = processing + 0.01).
    roles, warnings = load_with_warnings("a:\n  p: 60\n  d: 61\n  stddev: 30\n  max: 4\n")
    assert len(warnings) == 1 and "60.01 s" in warnings[0].message
    role = roles["a"]
    from dataclasses import replace

    scaler = Scaler(replace(role, model="guv"))
    scaler.restore({"model": "guv", "estimates": [1, 2, 1]})
    assert scaler.decide(Observation(t=0, ready=40, unacked=0, current=0)).desired == 4


def test_validate_prints_warnings_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("a:\n  p: 60\n  d: 61\n  stddev: 30\n  max: 4\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[0].startswith(f"{path}:3: a.deadline: target -8.8 s (deadline 61")
    assert out[1] == (
        "a: queue a, 1–4 dynos, target 60.01 s (cannot be met), jobs 60 s, deadline 61 s"  # noqa: RUF001
    )
    assert "1 warning" in captured.err


def test_the_polls_the_rules_judge_by_are_the_plans() -> None:
    polls = [float(p.poll_interval_s) for p in PLANS.values()]
    assert (min(polls), max(polls)) == (FASTEST_POLL, SLOWEST_POLL)
