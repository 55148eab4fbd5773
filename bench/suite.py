"""The scenario suite: every family x seed x poll interval, ours against the peers.

    .venv/bin/python bench/scaling.py --suite            # dev and held-out seeds, 30 a family
    .venv/bin/python bench/scaling.py --suite --quick    # 6 a family, dev seeds only
    .venv/bin/python bench/suite.py --fresh --jobs 2     # the second held-out set, for a last read
    .venv/bin/python bench/suite.py --per-family 30 --jobs 2 --held-out
    .venv/bin/python bench/suite.py --quick --sim events   # the event simulator only

Per family and poll interval it prints: among scenarios where the fastest
reactive policy (the maximum whenever work waits) meets the deadline, the
share where ours meets it too; the median and worst ratio of our dyno-hours to
the cheapest policy (guv, KEDA, HireFire, dynomatic or the fastest) that also
meets it; the best possible median, the median over the scenarios some peer
meets of the floor (no policy bills less than the minimum until the last
publish, nor than the jobs' own time over the concurrency) over that
cheapest peer: the lowest
cost median any policy that met all of them could have;
where the fastest misses, how many points more than it we miss; and runs that
never finished (livelock: jobs left when the run was cut); and the scale
operations of ours and of guv (churn: boots paid and Platform API calls).
Under each table, how many of our misses where the fastest meets are beyond
reaction: ours with the maximum whenever jobs wait (`AtFirstSight`) misses
them too, so only dynos running before a queue's first sight save them.

Three seed sets: development (tuned on), held-out (reported each time;
variants that lost held-out runs were not landed, so it has steered the
model a little), and `--fresh`, a second held-out set read only to check the
held-out figures, never used to choose between variants.

`--standby SHARE[:slow]` runs ours held at least SHARE of the way to the
maximum while jobs wait or run (`baselines.Standby`; `:slow`, only on roles
too slow to react): what meeting the misses beyond reaction would cost.

`--misstate K` gives every policy rules whose `processing` (and stddev) is
K times the jobs' real mean, as a user's guess may be; the jobs do not
change, so the fastest and the floor do not either: how far each policy
leans on the rule's job time, and how much of the correctly set figures ours
keeps by measuring it from the acks.

`--sim both` (the default) runs every scenario on both simulators, the event
engine (guvscale/simulate/engine.py) and the fixed-step one (stepsim.py),
written apart so that a headline resting on one simulator's quirks shows: the
tables and the targets' shortfalls for each, then how far they agree (the
share of scenarios where both say the same of ours meeting, and the median
and range of the steps/events ratio of our dyno-hours). `--sim events` or
`--sim steps` runs one. With `--misses`, the scenarios the two judge
differently for ours are listed under the agreement line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from multiprocessing import Pool

from guvscale.simulate import SimConfig, draw_durations, run_trace, run_trace_steps
from guvscale.simulate.baselines import AtFirstSight, Fastest, Standby
from guvscale.simulate.policies import all_policies
from guvscale.simulate.policies import ours as policy_ours
from guvscale.simulate.scenarios import DEV_BASE, FAMILIES, FRESH_BASE, HELD_OUT_BASE, with_poll
from guvscale.simulate.traces import Trace

POLLS = (10.0, 15.0, 30.0, 60.0)
MEET_SHARE = 0.99  # of the scenarios the fastest meets
MISS_POINTS = 1.0  # where the fastest misses, ours may miss this many points more
COST_MEDIAN, COST_WORST = 0.9, 1.05
SIMULATORS = {"events": run_trace, "steps": run_trace_steps}
SIM_TITLES = {"events": "event simulator", "steps": "step simulator"}
# Seed sets by name: the first seed of each, and its title.
SEED_SETS = {"dev": DEV_BASE, "held-out": HELD_OUT_BASE, "fresh": FRESH_BASE}
SET_TITLES = {"dev": "development", "held-out": "held-out", "fresh": "second held-out (fresh)"}


@dataclass(frozen=True)
class Outcome:
    sim: str
    family: str
    index: int
    held_out: bool  # either held-out set (`seeds` says which)
    poll: float
    ours_within: float
    ours_meets: bool
    ours_hours: float
    ours_unfinished: int
    fastest_within: float
    fastest_meets: bool
    cheapest: str | None  # cheapest peer that meets
    cheapest_hours: float
    floor_hours: float  # no policy bills less: the minimum all along, or the jobs' own time
    # Changes of the requested quantity: churn, boots paid and Platform API
    # calls. Defaults let `--against` read files saved before they were kept.
    ours_ops: int = 0
    guv_ops: int = 0
    # Where ours misses and the fastest meets: does ours with the maximum
    # whenever jobs wait meet? False: only dynos running before the first
    # sight of a queue save the run. None where not asked.
    sight_meets: bool | None = None
    # The seed set by name; files saved before the fresh set existed have "".
    seeds: str = ""
    # Does any peer (guv, KEDA, HireFire or dynomatic; not the fastest) meet
    # the deadline? None in files saved before it was kept.
    peer_meets: bool | None = None

    @property
    def seed_set(self) -> str:
        return self.seeds or ("held-out" if self.held_out else "dev")


# What holding dynos while work waits or runs buys (`--standby`): the share
# of the way to the maximum, and whether only roles too slow to react hold it.
Held = tuple[float, bool] | None


@dataclass(frozen=True)
class Variant:
    """What a run changes from the plain suite."""

    standby: Held = None  # `--standby`
    misstate: float = 1.0  # `--misstate`: the rules' job time over the real one


PLAIN = Variant()
Job = tuple[str, str, int, str, float, Variant]  # simulator, family, index, seed set, poll


def run_one(job: Job) -> Outcome:
    sim, family, index, seeds, poll, variant = job
    simulate = SIMULATORS[sim]
    trace = with_poll(FAMILIES[family](seed_of(index, seeds)), poll)
    role = trace.role(misstated=variant.misstate)
    # Cut a run that cannot finish (livelock) well after any honest backlog
    # and after the longest job of the draw could have run three times over.
    longest = max(draw_durations(len(trace.arrivals), trace.mean, trace.cv, index))
    cfg = SimConfig(tail=max(1800.0, 4 * role.deadline) + 3 * longest)
    policies = all_policies(role)
    policies["fastest"] = Fastest(role)
    if variant.standby:
        policies["ours"] = Standby(role, policies["ours"], *variant.standby)
    results = {
        name: simulate(p, trace, role, seed=index, config=cfg) for name, p in policies.items()
    }
    ours = results.pop("ours")
    meeting = {n: r for n, r in results.items() if r.meets and r.done == r.jobs}
    cheapest = min(meeting, key=lambda n: meeting[n].dyno_hours) if meeting else None
    fastest = results["fastest"]
    sight = None
    if fastest.meets and not (ours.meets and ours.done == ours.jobs):
        eager = simulate(AtFirstSight(role, policy_ours(role)), trace, role, seed=index, config=cfg)
        sight = eager.meets and eager.done == eager.jobs
    return Outcome(
        sim,
        family,
        index,
        seeds != "dev",
        poll,
        ours.within,
        ours.meets and ours.done == ours.jobs,
        ours.dyno_hours,
        ours.jobs - ours.done,
        fastest.within,
        fastest.meets,
        cheapest,
        meeting[cheapest].dyno_hours if cheapest else math.nan,
        # Every policy runs the same jobs (one draw of job times), so the
        # fastest's job-hours are everyone's. The minimum is charged until the
        # last publish only (the engines' dyno-hours), not for the trace's
        # length: a workload cut at MAX_JOBS ends its publishing early.
        max(role.minimum * last_publish(trace) / 3600, fastest.job_hours / role.concurrency),
        ours.scale_ops,
        results["guv"].scale_ops,
        sight,
        seeds,
        any(name != "fastest" for name in meeting),
    )


def last_publish(trace: Trace) -> float:
    return max(trace.arrivals, default=0.0)


def seed_of(index: int, seeds: str) -> int:
    return SEED_SETS[seeds] + index


def jobs_for(per_family: int, seeds: str, sims: list[str], variant: Variant = PLAIN) -> list[Job]:
    return [
        (sim, family, i, seeds, poll, variant)
        for sim in sims
        for family in FAMILIES
        for i in range(per_family)
        for poll in POLLS
    ]


def ratio(o: Outcome) -> float | None:
    if not o.ours_meets or o.cheapest is None or o.cheapest_hours <= 0:
        return None
    return o.ours_hours / o.cheapest_hours


def best_possible(o: Outcome) -> float | None:
    """The lowest cost ratio any policy could have here: the floor over the
    cheapest peer that meets (1.000 where that peer is at the floor already)."""
    if o.cheapest is None or o.cheapest_hours <= 0:
        return None
    return min(1.0, o.floor_hours / o.cheapest_hours)


def cells(group: list[Outcome]) -> list[str]:
    possible = [o for o in group if o.fastest_meets]
    met = sum(1 for o in possible if o.ours_meets)
    ratios = [r for o in group if (r := ratio(o)) is not None]
    beyond = [o for o in group if not o.fastest_meets]
    worse = [100 * (o.fastest_within - o.ours_within) for o in beyond]
    stuck = sum(1 for o in group if o.ours_unfinished)
    bests = [b for o in group if (b := best_possible(o)) is not None]
    ops = sum(o.ours_ops for o in group), sum(o.guv_ops for o in group)
    share = f"{met}/{len(possible)} ({100 * met / len(possible):.1f} %)" if possible else "-"
    return [
        str(len(group)),
        share,
        f"{statistics.median(ratios):.3f}" if ratios else "-",
        f"{max(ratios):.3f}" if ratios else "-",
        f"{statistics.median(bests):.3f}" if bests else "-",
        f"{len(beyond)}: {max(worse):+.2f}" if beyond else "-",
        str(stuck),
        f"{ops[0]:,} / {ops[1]:,}",
    ]


HEADER = (
    "| family | poll | scenarios | ours meets where the fastest does | cost median "
    "| cost worst | best possible median | fastest misses: n, worst extra points | livelocks "
    "| scale ops, ours / guv |"
)
RULE = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"


def report(outcomes: list[Outcome], title: str, detail: bool) -> list[str]:
    """Print the tables; return what falls short of the targets."""
    print(f"\n### {title}\n")
    print(HEADER)
    print(RULE)
    by: dict[tuple[str, float], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by[(o.family, o.poll)].append(o)
    if detail:
        for family in FAMILIES:
            for poll in POLLS:
                if by[(family, poll)]:
                    print(
                        "| "
                        + " | ".join([family, f"{poll:g} s", *cells(by[(family, poll)])])
                        + " |"
                    )
    for poll in POLLS:
        group = [o for o in outcomes if o.poll == poll]
        print("| " + " | ".join(["**all**", f"{poll:g} s", *cells(group)]) + " |")
    print("| " + " | ".join(["**all**", "all", *cells(outcomes)]) + " |")
    print("\n" + beyond_reaction(outcomes))
    if peers := against_peers(outcomes):
        print("\n" + peers)
    short: list[str] = []
    for poll in POLLS:
        group = [o for o in outcomes if o.poll == poll]
        possible = [o for o in group if o.fastest_meets]
        if possible and sum(o.ours_meets for o in possible) < MEET_SHARE * len(possible):
            short.append(f"{poll:g} s: ours meets in fewer than 99 % where the fastest does")
        ratios = [r for o in group if (r := ratio(o)) is not None]
        if ratios and statistics.median(ratios) > COST_MEDIAN:
            short.append(f"{poll:g} s: cost median {statistics.median(ratios):.3f} > 0.9")
        if ratios and max(ratios) > COST_WORST:
            short.append(f"{poll:g} s: cost worst {max(ratios):.3f} > 1.05")
        for o in group:
            if o.ours_unfinished:
                short.append(
                    f"{o.family}-{o.index} at {poll:g} s: {o.ours_unfinished} jobs never done"
                )
            elif not o.fastest_meets and o.fastest_within - o.ours_within > MISS_POINTS / 100:
                short.append(
                    f"{o.family}-{o.index} at {poll:g} s: ours {100 * o.ours_within:.2f} % vs "
                    f"fastest {100 * o.fastest_within:.2f} %"
                )
    return short


def beyond_reaction(outcomes: list[Outcome]) -> str:
    """How many of our misses where the fastest meets no reaction to a
    queue's first sight saves (`Outcome.sight_meets`), per poll interval."""
    missed = [o for o in outcomes if o.fastest_meets and not o.ours_meets]
    if not missed:
        return "Ours misses no scenario the fastest meets."
    per = ", ".join(
        f"{sum(1 for o in missed if o.poll == p and o.sight_meets is False)} of "
        f"{sum(1 for o in missed if o.poll == p)} at {p:g} s"
        for p in POLLS
    )
    beyond = sum(1 for o in missed if o.sight_meets is False)
    return (
        f"Of the {len(missed)} scenarios ours misses where the fastest meets, {beyond} are "
        f"missed too by ours with the maximum whenever jobs wait ({per}): only dynos "
        "running before a queue's first sight save those, as the fastest's maximum, held "
        "while any job runs, does."
    )


def against_peers(outcomes: list[Outcome]) -> str:
    """Where at least one peer meets the deadline (`Outcome.peer_meets`), how
    often ours does, per poll interval: the claim to beat them, run by run.
    Empty for files saved before it was kept."""
    kept = [o for o in outcomes if o.peer_meets]
    if not kept:
        return ""

    def share(group: list[Outcome]) -> str:
        met = sum(1 for o in group if o.ours_meets)
        return f"{met}/{len(group)} ({100 * met / len(group):.1f} %)" if group else "-"

    per = ", ".join(f"{share([o for o in kept if o.poll == p])} at {p:g} s" for p in POLLS)
    return (
        "Where a peer (guv, KEDA, HireFire or dynomatic) meets the deadline, ours "
        f"meets in {share(kept)}: {per}."
    )


def sight_note(o: Outcome) -> str:
    if o.sight_meets is None:
        return ""
    return "; the maximum whenever jobs wait meets" if o.sight_meets else "; beyond reaction"


def misses(outcomes: list[Outcome]) -> list[str]:
    """Each scenario ours misses where the fastest meets, and the costliest ones."""
    lines = [
        f"- miss {o.family}-{o.index} at {o.poll:g} s: ours {100 * o.ours_within:.2f} %, "
        f"fastest {100 * o.fastest_within:.2f} %{sight_note(o)}"
        for o in outcomes
        if o.fastest_meets and not o.ours_meets
    ]
    lines += [
        f"- miss where a peer meets {o.family}-{o.index} at {o.poll:g} s: "
        f"ours {100 * o.ours_within:.2f} %, the cheapest that meets {o.cheapest}"
        for o in outcomes
        if o.peer_meets and not o.ours_meets
    ]
    costly = sorted(((r, o) for o in outcomes if (r := ratio(o)) is not None), key=lambda x: -x[0])[
        :10
    ]
    lines += [
        f"- cost {o.family}-{o.index} at {o.poll:g} s: {r:.3f} x {o.cheapest}" for r, o in costly
    ]
    return lines


def pairs_of(outcomes: list[Outcome]) -> list[tuple[Outcome, Outcome]]:
    """(events, steps) outcomes of each scenario run on both simulators."""
    events = {(o.family, o.index, o.poll): o for o in outcomes if o.sim == "events"}
    return [
        (events[k], o)
        for o in outcomes
        if o.sim == "steps" and (k := (o.family, o.index, o.poll)) in events
    ]


def agreement(outcomes: list[Outcome]) -> str:
    """How far the two simulators agree on the same scenarios."""
    pairs = pairs_of(outcomes)
    if not pairs:
        return "agreement: no scenario ran on both simulators"
    same = sum(1 for e, s in pairs if e.ours_meets == s.ours_meets)
    same_fastest = sum(1 for e, s in pairs if e.fastest_meets == s.fastest_meets)
    hours = sorted(s.ours_hours / e.ours_hours for e, s in pairs if e.ours_hours > 0)
    spread = (
        f"median {statistics.median(hours):.3f}, range {hours[0]:.3f} to {hours[-1]:.3f}"
        if hours
        else "-"
    )
    return (
        f"agreement over {len(pairs)} scenarios: ours meeting the same on both in "
        f"{same} ({100 * same / len(pairs):.1f} %), the fastest in {same_fastest} "
        f"({100 * same_fastest / len(pairs):.1f} %); our dyno-hours steps/events {spread}"
    )


def disagreements(outcomes: list[Outcome]) -> list[str]:
    """Each scenario the two simulators judge differently for ours."""
    return [
        f"- {e.family}-{e.index} at {e.poll:g} s: ours {100 * e.ours_within:.2f} % on events, "
        f"{100 * s.ours_within:.2f} % on steps (fastest {100 * e.fastest_within:.2f} %, "
        f"{100 * s.fastest_within:.2f} %)"
        for e, s in pairs_of(outcomes)
        if e.ours_meets != s.ours_meets
    ]


def save(outcomes: list[Outcome], path: str) -> None:
    """Every outcome, a JSON object a line, for `--against` in a later run."""
    with open(path, "w") as f:
        for o in outcomes:
            f.write(json.dumps(dataclasses.asdict(o)) + "\n")


def load(path: str) -> list[Outcome]:
    with open(path) as f:
        return [Outcome(**json.loads(line)) for line in f if line.strip()]


def changes(before: list[Outcome], after: list[Outcome]) -> list[str]:
    """What a change did, scenario by scenario: each verdict of ours that
    flipped where the fastest meets, and the cost ratios that moved most."""

    def key(o: Outcome) -> tuple[str, str, str, int, float]:
        return (o.sim, o.seed_set, o.family, o.index, o.poll)

    old = {key(o): o for o in before}
    lines: list[str] = []
    moved: list[tuple[float, str]] = []
    hours: list[tuple[float, float]] = []
    ops: list[tuple[int, int]] = []
    for o in after:
        b = old.get(key(o))
        if b is None:
            continue
        hours.append((b.ours_hours, o.ours_hours))
        ops.append((b.ours_ops, o.ours_ops))
        name = f"{o.sim} {o.seed_set} {o.family}-{o.index} at {o.poll:g} s"
        if o.fastest_meets and b.ours_meets != o.ours_meets:
            word = "gained" if o.ours_meets else "lost"
            lines.append(
                f"- {word} {name}: {100 * b.ours_within:.2f} % -> {100 * o.ours_within:.2f} %"
            )
        if (r0 := ratio(b)) is not None and (r1 := ratio(o)) is not None and r0 != r1:
            moved.append((r1 / r0, f"- cost {name}: {r0:.3f} -> {r1:.3f}"))
    moved.sort()
    shown = moved if len(moved) <= 10 else moved[:5] + moved[-5:]
    lines += [line for _, line in shown]
    if hours:
        lines.append(
            f"- ours' dyno-hours over {len(hours)} runs: {sum(h for h, _ in hours):.1f} -> "
            f"{sum(h for _, h in hours):.1f}"
        )
        lines.append(
            f"- ours' scale ops over {len(ops)} runs: {sum(n for n, _ in ops):,} -> "
            f"{sum(n for _, n in ops):,}"
        )
    return lines


def run_set(
    per_family: int, seeds: str, workers: int, sims: list[str], variant: Variant = PLAIN
) -> list[Outcome]:
    todo = jobs_for(per_family, seeds, sims, variant)
    if workers > 1:
        with Pool(workers) as pool:
            return pool.map(run_one, todo, chunksize=4)
    return [run_one(j) for j in todo]


def _number(value: str) -> float:
    """`value` as a float, or nan (which every range check refuses)."""
    try:
        return float(value)
    except ValueError:
        return math.nan


def standby_share(value: str) -> tuple[float, bool]:
    """`--standby SHARE[:slow]` as (share, only roles too slow to react)."""
    share, _, only = value.partition(":")
    held = _number(share)
    if not 0.0 <= held <= 1.0 or only not in ("", "slow"):
        raise argparse.ArgumentTypeError(f"{value}: a share from 0 to 1, optionally with :slow")
    return held, only == "slow"


def factor(value: str) -> float:
    """`--misstate K`: a positive factor."""
    k = _number(value)
    if not 0.0 < k < math.inf:
        raise argparse.ArgumentTypeError(f"{value}: a factor above 0, such as 0.5 or 2")
    return k


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=30, help="scenarios per family")
    parser.add_argument("--quick", action="store_true", help="6 a family, dev seeds only")
    parser.add_argument("--held-out", action="store_true", help="the held-out seeds only")
    parser.add_argument("--both", action="store_true", help="dev and held-out seeds")
    parser.add_argument(
        "--fresh", action="store_true", help="the second held-out seeds only (never tuned on)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--detail", action="store_true", help="a row per family and poll")
    parser.add_argument("--misses", action="store_true", help="list misses and costliest runs")
    parser.add_argument("--families", default="", help="comma-separated families (default all)")
    parser.add_argument(
        "--sim",
        choices=["events", "steps", "both"],
        default="both",
        help="the event simulator, the fixed-step one, or both (default)",
    )
    parser.add_argument("--save", default="", help="write every outcome to this file (JSON lines)")
    parser.add_argument(
        "--against", default="", help="list what changed against a file --save wrote"
    )
    parser.add_argument(
        "--standby",
        type=standby_share,
        default=None,
        metavar="SHARE[:slow]",
        help="ours held at least SHARE of the way to the maximum while jobs wait or run "
        "(with :slow, only roles too slow to react): what the misses beyond reaction cost",
    )
    parser.add_argument(
        "--misstate",
        type=factor,
        default=1.0,
        metavar="K",
        help="every policy's rules say jobs take K times their real mean (a user's wrong "
        "guess; the jobs are unchanged)",
    )
    args = parser.parse_args(argv)
    variant = Variant(args.standby, args.misstate)
    per = 6 if args.quick else args.per_family
    if args.families:
        keep = set(args.families.split(","))
        for f in list(FAMILIES):
            if f not in keep:
                del FAMILIES[f]
    sims = list(SIMULATORS) if args.sim == "both" else [args.sim]
    if args.both:
        sets = ["dev", "held-out"]
    elif args.fresh:
        sets = ["fresh"]
    elif args.held_out:
        sets = ["held-out"]
    else:
        sets = ["dev"]
    short: dict[str, list[str]] = {sim: [] for sim in sims}
    agreed: list[str] = []
    everything: list[Outcome] = []
    for seeds in sets:
        t0 = time.perf_counter()
        outcomes = run_set(per, seeds, args.jobs, sims, variant)
        took = time.perf_counter() - t0
        everything += outcomes
        for sim in sims:
            title = f"{SIM_TITLES[sim]}, {SET_TITLES[seeds]} seeds: "
            title += f"{per} scenarios a family x {len(POLLS)} polls"
            if args.misstate != 1.0:
                title += f", processing misstated x {args.misstate:g}"
            mine = [o for o in outcomes if o.sim == sim]
            found = report(mine, title, args.detail)
            short[sim] += [f"{seeds}: {s}" for s in found]
            if args.misses:
                print("\n" + "\n".join(misses(mine)))
        if len(sims) > 1:
            agreed.append(f"- {seeds}: {agreement(outcomes)}")
            if args.misses:
                agreed += [f"  {line}" for line in disagreements(outcomes)]
        print(f"\n({took:.0f} s for the {seeds} seeds on {' and '.join(sims)})")
    for sim in sims:
        print(f"\n### targets, {SIM_TITLES[sim]}\n")
        print("\n".join(f"- short: {s}" for s in short[sim]) or "all targets met")
    if agreed:
        print("\n### the two simulators\n")
        print("\n".join(agreed))
    if args.save:
        save(everything, args.save)
    if args.against:
        print(f"\n### against {args.against}\n")
        print("\n".join(changes(load(args.against), everything)) or "no change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
