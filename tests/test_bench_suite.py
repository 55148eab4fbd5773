"""The scenario suite's report (`bench/suite.py`): what it counts where a peer meets,
and that outcomes saved before a field was kept still load."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SUITE_PATH = Path(__file__).resolve().parent.parent / "bench" / "suite.py"


@pytest.fixture(scope="module")
def suite() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_suite", SUITE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def outcome(suite: ModuleType, **kw: Any) -> Any:
    fields: dict[str, Any] = dict(
        sim="events",
        family="steady",
        index=0,
        held_out=False,
        poll=10.0,
        ours_within=1.0,
        ours_meets=True,
        ours_hours=1.0,
        ours_unfinished=0,
        fastest_within=1.0,
        fastest_meets=True,
        cheapest="guv",
        cheapest_hours=1.0,
        floor_hours=1.0,
        seeds="dev",
        peer_meets=True,
    )
    fields.update(kw)
    return suite.Outcome(**fields)


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        # (ours meets, a peer meets, poll) per run
        ([(True, True, 10.0), (False, True, 10.0)], "1/2 (50.0 %) at 10 s"),
        ([(True, True, 60.0), (False, False, 60.0)], "meets in 1/1 (100.0 %)"),
        ([(True, True, 15.0)], "- at 10 s"),
    ],
)
def test_against_peers_counts_only_runs_a_peer_meets(
    suite: ModuleType, runs: list[tuple[bool, bool, float]], expected: str
) -> None:
    group = [outcome(suite, ours_meets=o, peer_meets=p, poll=t) for o, p, t in runs]
    assert expected in suite.against_peers(group)


def test_against_peers_says_nothing_for_files_saved_before_it_was_kept(
    suite: ModuleType,
) -> None:
    assert suite.against_peers([outcome(suite, peer_meets=None)]) == ""


def test_a_miss_where_a_peer_meets_is_listed_with_the_cheapest(suite: ModuleType) -> None:
    lines = suite.misses(
        [outcome(suite, family="slow", index=3, ours_meets=False, ours_within=0.9897)]
    )
    assert (
        "- miss where a peer meets slow-3 at 10 s: ours 98.97 %, the cheapest that meets guv"
        in lines
    )


def test_outcomes_saved_without_peer_meets_load(suite: ModuleType, tmp_path: Path) -> None:
    old = dataclasses.asdict(outcome(suite))
    del old["peer_meets"]
    del old["seeds"]
    saved = tmp_path / "old.jsonl"
    saved.write_text(json.dumps(old) + "\n")
    (loaded,) = suite.load(str(saved))
    assert loaded.peer_meets is None
    assert loaded.seed_set == "dev"


def test_standby_runs_ours_held_while_jobs_wait_or_run(suite: ModuleType) -> None:
    job = ("events", "sparse", 0, "dev", 60.0)
    plain = suite.run_one((*job, suite.PLAIN))
    held = suite.run_one((*job, suite.Variant(standby=(1.0, False))))
    # The peers and the fastest run as before; only ours holds the maximum.
    assert (held.fastest_within, held.cheapest) == (plain.fastest_within, plain.cheapest)
    assert held.ours_hours > plain.ours_hours
    # Holding none of the way is plain ours.
    assert suite.run_one((*job, suite.Variant(standby=(0.0, False)))) == plain


@pytest.mark.parametrize("value", ["2", "-0.1", "half", "0.5:fast"])
def test_standby_refuses_what_is_no_share(suite: ModuleType, value: str) -> None:
    with pytest.raises(SystemExit):
        suite.main(["--standby", value])


def test_misstate_gives_every_policy_a_wrong_job_time_and_leaves_the_jobs(
    suite: ModuleType,
) -> None:
    job = ("events", "steady", 3, "dev", 30.0)
    plain = suite.run_one((*job, suite.PLAIN))
    halved = suite.run_one((*job, suite.Variant(misstate=0.5)))
    # The same jobs: the fastest (which reads no job time) and the floor agree.
    assert (halved.fastest_within, halved.floor_hours) == (plain.fastest_within, plain.floor_hours)
    # Ours, told jobs take half as long, runs fewer dynos.
    assert halved.ours_hours < plain.ours_hours
    assert suite.run_one((*job, suite.Variant(misstate=1.0))) == plain


@pytest.mark.parametrize("value", ["0", "-1", "twice", "inf"])
def test_misstate_refuses_what_is_no_factor(suite: ModuleType, value: str) -> None:
    with pytest.raises(SystemExit):
        suite.main(["--misstate", value])
