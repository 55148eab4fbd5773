"""`guvscale simulate`: rules + trace in, figures out."""

from __future__ import annotations

from pathlib import Path

import pytest

from guvscale.cli import main
from guvscale.rules.types import Role
from guvscale.scaling.types import Policy
from guvscale.simulate import policies
from guvscale.simulate.baselines import Keda
from tests.test_rules_load import GUVSCALE_EXAMPLE as EMAIL

TWO = """\
burst3k:
  processing: 1
  deadline: 180
  minimum: 0
  maximum: 25
other:
  processing: 2
"""


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[Role]:
    """Stand in for the model's Scaler (tested on its own): KEDA's rule, recording roles."""
    seen: list[Role] = []

    def scaler(role: Role) -> Policy:
        seen.append(role)
        return Keda(role)

    monkeypatch.setattr(policies, "scaler_available", lambda: True)
    monkeypatch.setattr(policies, "scaler", scaler)
    return seen


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_figures_for_the_role_on_a_public_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_model: list[Role]
) -> None:
    rules = write(tmp_path, "rules.yaml", EMAIL)
    assert main(["simulate", rules, "--trace", "burst3k"]) == 0
    out = capsys.readouterr().out
    assert "role emailsender on trace burst3k (seed 0): 3,000 jobs" in out
    assert "ours (model: guvscale)" in out
    assert "jobs: 3,000 (3,000 done)" in out
    assert "within 180 s deadline:" in out
    assert "dyno-hours:" in out and "back to minimum:" in out
    # the rules supply the role: concurrency 10, max 5, not the trace's 1 and 25
    assert [(r.concurrency, r.maximum, r.processing) for r in fake_model] == [(10, 5, 0.3)]


def test_compare_prints_a_row_per_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_model: list[Role]
) -> None:
    rules = write(tmp_path, "rules.yaml", TWO)
    assert main(["simulate", rules, "--trace", "burst3k", "--compare"]) == 0
    out = capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert rows == ["policy", "ours", "guv", "keda", "hirefire", "dynomatic"]
    assert "cheapest peer that meets the deadline" in out or "no peer meets" in out
    # ours and guv are the model's Scaler with model guvscale / guv
    assert [r.model for r in fake_model] == ["guvscale", "guv"]
    assert {r.name for r in fake_model} == {"burst3k"}  # picked by the trace's name


def test_seed_changes_the_run_and_the_same_seed_repeats_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_model: list[Role]
) -> None:
    rules = write(tmp_path, "rules.yaml", EMAIL)
    outs = []
    for seed in ("1", "1", "2"):
        assert main(["simulate", rules, "--trace", "burst3k", "--seed", seed]) == 0
        outs.append(capsys.readouterr().out.replace(f"(seed {seed})", ""))
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_csv_trace_with_durations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_model: list[Role]
) -> None:
    rules = write(tmp_path, "rules.yaml", EMAIL)
    csv = write(tmp_path, "jobs.csv", "t,duration\n0,1\n0,1\n5,2\n")
    assert main(["simulate", rules, "--trace", csv]) == 0
    out = capsys.readouterr().out
    assert "on trace jobs (seed 0): 3 jobs" in out
    assert "jobs: 3 (3 done)" in out


def test_rules_problems_are_listed_like_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write(tmp_path, "rules.yaml", "w:\n  deadline: soon\n")
    assert main(["simulate", rules, "--trace", "steady"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{rules}:2: w.deadline: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trace", "nope", "--role", "other"], "unknown trace 'nope'"),
        (["--trace", "steady", "--role", "ghost"], "no role 'ghost'"),
        (["--trace", "steady"], "several roles (burst3k, other); pick one with --role"),
        (["--trace", "burst3k", "--scale", "0"], "--scale must be a positive number"),
        (["--trace", "missing.csv", "--role", "other"], "missing.csv: cannot read"),
    ],
)
def test_command_line_problems_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_model: list[Role],
    args: list[str],
    message: str,
) -> None:
    rules = write(tmp_path, "rules.yaml", TWO)
    assert main(["simulate", rules, *args]) == 2
    assert message in capsys.readouterr().err


def test_bad_csv_points_at_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_model: list[Role]
) -> None:
    rules = write(tmp_path, "rules.yaml", EMAIL)
    csv = write(tmp_path, "bad.csv", "0\n1\nlater\n")
    assert main(["simulate", rules, "--trace", csv]) == 2
    assert "bad.csv:3: publish time 'later' is not a number" in capsys.readouterr().err


def test_missing_rules_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(tmp_path / "none.yaml"), "--trace", "steady"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_without_the_model_compare_still_shows_the_peers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policies, "scaler_available", lambda: False)
    rules = write(tmp_path, "rules.yaml", EMAIL)
    assert main(["simulate", rules, "--trace", "burst3k"]) == 2
    assert "not available" in capsys.readouterr().err
    assert main(["simulate", rules, "--trace", "burst3k", "--compare"]) == 0
    out = capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert rows == ["policy", "keda", "hirefire", "dynomatic"]
