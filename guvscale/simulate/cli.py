"""`guvscale simulate rules.yaml --trace NAME|file.csv`: a role against a workload.

How the rules and the trace combine: the rules always supply the role (job
time estimate, deadline, percentile, concurrency, bounds, boot, poll interval,
model), exactly as the service would run it. A public trace name supplies
only the arrivals and the real job times (its own mean and cv), so a role
whose `processing` is wrong for the trace shows what that costs. A CSV
supplies arrivals and, when it has a `duration` column, the job times;
without one, job times are drawn from the role's processing and stddev.

Which role: `--role`; else the only role; else the role named like the trace.

Exit 0 with the figures; 1 when the rules have problems (one per line, as
`guvscale validate`); 2 for a bad command line or an unreadable file.
"""

from __future__ import annotations

import argparse
import math
import sys

from guvscale.rules import RulesError, load
from guvscale.rules.cli import format_issue
from guvscale.rules.files import UnreadableFile, read_rules_file
from guvscale.rules.types import Role
from guvscale.simulate import policies
from guvscale.simulate.engine import run_trace
from guvscale.simulate.metrics import TABLE_HEADER, TABLE_RULE, SimResult, summary, table_row
from guvscale.simulate.traces import PUBLIC, Trace, TraceError, load_csv, public


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the rules file (YAML)")
    parser.add_argument(
        "--trace",
        required=True,
        help=f"a public trace ({', '.join(PUBLIC)}) or a CSV of publish times",
    )
    parser.add_argument("--role", help="the role to run (default: the only one)")
    parser.add_argument(
        "--compare", action="store_true", help="also run guv and the peers; print a table"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="public traces: multiply rates and burst sizes (default 1)",
    )


class _Usage(Exception):
    """A problem with the command line or its files: exit 2."""


def _read(path: str) -> str:
    try:
        return read_rules_file(path)
    except UnreadableFile as exc:
        raise _Usage(str(exc)) from None


def _pick_role(roles: dict[str, Role], wanted: str | None, trace: str) -> Role:
    if wanted is not None:
        if wanted not in roles:
            raise _Usage(f"no role {wanted!r}; the rules define: {', '.join(roles)}")
        return roles[wanted]
    if len(roles) == 1:
        return next(iter(roles.values()))
    if trace in roles:
        return roles[trace]
    raise _Usage(f"the rules define several roles ({', '.join(roles)}); pick one with --role")


def _trace(name: str, role: Role, seed: int, scale: float) -> Trace:
    if name in PUBLIC:
        if not (scale > 0 and math.isfinite(scale)):
            raise _Usage("--scale must be a positive number")
        return public(name, seed, scale)
    if not name.lower().endswith(".csv"):
        raise _Usage(f"unknown trace {name!r}: give one of {', '.join(PUBLIC)} or a .csv file")
    if scale != 1.0:
        raise _Usage("--scale applies to public traces only")
    try:
        return load_csv(name, role)
    except TraceError as exc:
        raise _Usage(str(exc)) from None


def _label(role: Role) -> str:
    return "ours" if role.model == "guvscale" else "guv"


def simulate(args: argparse.Namespace) -> int:
    try:
        text = _read(args.file)
        try:
            roles = load(text)
        except RulesError as exc:
            for issue in exc.errors:
                print(format_issue(args.file, issue))
            return 1
        role = _pick_role(roles, args.role, args.trace)
        trace = _trace(args.trace, role, args.seed, args.scale)
    except _Usage as exc:
        print(f"guvscale simulate: {exc}", file=sys.stderr)
        return 2

    have_model = policies.scaler_available()
    print(
        f"role {role.name} on trace {trace.name} (seed {args.seed}): {len(trace.arrivals):,} jobs, "
        f"deadline {role.deadline:g} s for {role.percentile:g} %, "
        f"{role.minimum}-{role.maximum} dynos of {role.concurrency} jobs"
    )
    results: dict[str, SimResult] = {}
    if have_model:
        mine = _label(role)
        results[mine] = run_trace(policies.scaler(role), trace, role, seed=args.seed)
        print(f"\n{mine} (model: {role.model})")
        for line in summary(results[mine]):
            print(f"  {line}")
    else:
        print("\nthe scaling model (guvscale.scaling.Scaler) is not available", file=sys.stderr)
        if not args.compare:
            return 2
    if not args.compare:
        return 0

    makers = {"ours": policies.ours, "guv": policies.guv} if have_model else {}
    makers.update(policies.PEERS)
    for name, make in makers.items():
        if name not in results:
            results[name] = run_trace(make(role), trace, role, seed=args.seed)
    print()
    print(TABLE_HEADER)
    print(TABLE_RULE)
    for name, r in results.items():
        print(table_row(name, r))
    peers = {n: r for n, r in results.items() if n != "ours" and r.meets}
    print()
    if not peers:
        print("no peer meets the deadline")
    else:
        best = min(peers, key=lambda n: peers[n].dyno_hours)
        cost = peers[best].dyno_hours
        line = f"cheapest peer that meets the deadline: {best}, {cost:.3f} dyno-hours"
        if "ours" in results and cost > 0:
            line += f"; ours / {best} = {results['ours'].dyno_hours / cost:.3f}"
        print(line)
    return 0
