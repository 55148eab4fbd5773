"""Scaling benchmark: every public trace x every policy, one table per variant.

    .venv/bin/python bench/scaling.py                      # seed 0, scale 1
    .venv/bin/python bench/scaling.py --seeds 0,1,2 --scales 0.5,1,2
    .venv/bin/python bench/scaling.py --suite [--quick] [--jobs 2]   # the scenario suite

`--suite` runs bench/suite.py (randomized families x 10/15/30/60 s polls, on
the development and the held-out seeds) with the options that follow it.

Policies: ours and guv (the model's Scaler, model guvscale / guv; left out,
with a note, while `guvscale.scaling.Scaler` does not exist), then KEDA,
HireFire and dynomatic with parameters derived from the same role
(guvscale/simulate/baselines.py says how). Each trace runs with its own role
settings (Trace.role()). Prints, per variant, the Markdown table, a line per
trace comparing ours with the cheapest peer (guv included) that meets the
deadline, the geometric mean of that ratio, the burst3k headline and the
issue's bar; then the simulator's speed on a one-hour, 100,000-job trace.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from guvscale.simulate import SimConfig, public, run_trace
from guvscale.simulate.baselines import Fixed
from guvscale.simulate.metrics import SimResult, fmt_seconds
from guvscale.simulate.policies import all_policies, scaler_available
from guvscale.simulate.traces import PUBLIC

TOLERANCE = 1.02  # ours may cost 2 % more than the cheapest peer that meets


def row(trace: str, policy: str, r: SimResult) -> str:
    cells = [
        trace,
        policy,
        f"{r.within * 100:.2f}",
        fmt_seconds(r.p99),
        f"{r.dyno_hours:.3f}",
        f"{r.efficiency:.2f}",
        str(r.scale_ops),
        str(r.redeliveries),
        fmt_seconds(r.back_to_min),
        "yes" if r.meets else "**no**",
    ]
    return "| " + " | ".join(cells) + " |"


def run_variant(seed: int, scale: float, traces: list[str]) -> tuple[float | None, list[str]]:
    """Print one variant's table and verdicts; return the geometric mean and failures."""
    print(f"\n### seed {seed}, scale {scale:g}\n")
    print(
        "| trace | policy | % within deadline | p99 | dyno-hours | efficiency "
        "| scale ops | redeliveries | back to min | meets? |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|:---:|")
    verdicts: list[str] = []
    failures: list[str] = []
    ratios: list[float] = []
    for name in traces:
        trace = public(name, seed, scale)
        role = trace.role()
        results = {
            p: run_trace(policy, trace, role, seed=seed) for p, policy in all_policies(role).items()
        }
        for p, r in results.items():
            print(row(name, p, r))
        # The bar holds where it is physically possible: the role's maximum,
        # all booted before the first job, is the most any policy can have.
        best_case = run_trace(
            Fixed(role.maximum), trace, role, seed=seed, config=SimConfig(initial=role.maximum)
        )
        if not best_case.meets:
            verdicts.append(
                f"- {name}: beyond the bounds: even {role.maximum} dynos running from t = 0 "
                f"finish only {best_case.within * 100:.2f} % within {role.deadline:g} s"
            )
        peers = {p: r for p, r in results.items() if p != "ours" and r.meets}
        ours = results.get("ours")
        if ours is not None and not ours.meets and best_case.meets:
            failures.append(f"{name}: ours misses the deadline ({ours.within * 100:.2f} %)")
        if ours is not None and name == "burst3k":
            verdicts.append(
                f"- burst3k headline: ours reaches {ours.max_dynos} dynos, is back to the "
                f"minimum at t = {fmt_seconds(ours.back_at)}, "
                f"{ours.within * 100:.2f} % within {ours.deadline:g} s"
            )
            back = ours.back_at
            # 25 dynos is the headline's count for 3,000 jobs; variants only need the rest
            peak = ours.max_dynos >= 25 or scale != 1.0
            if best_case.meets and (back is None or back > 240 or ours.within < 1 or not peak):
                failures.append("burst3k: not 0 -> 25 -> 0 within 240 s with all jobs in 180 s")
        if not peers:
            met = "n/a" if ours is None else ("meets" if ours.meets else "misses")
            verdicts.append(f"- {name}: no peer meets the deadline; ours {met}")
            continue
        best = min(peers, key=lambda p: peers[p].dyno_hours)
        cost = peers[best].dyno_hours
        if ours is None:
            verdicts.append(f"- {name}: cheapest peer that meets: {best}, {cost:.3f} dyno-hours")
            continue
        ratio = ours.dyno_hours / cost if cost > 0 else math.inf
        ratios.append(ratio)
        verdicts.append(
            f"- {name}: ours vs cheapest peer that meets the deadline ({best}, "
            f"{cost:.3f} dyno-hours): {ratio:.3f}"
        )
        if ratio > TOLERANCE:
            failures.append(f"{name}: ours costs {ratio:.3f}x the cheapest peer that meets")
    print()
    print("\n".join(verdicts))
    geo = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None
    if geo is not None:
        print(f"\ngeometric mean of ours / cheapest peer that meets: {geo:.3f}")
        if geo >= 1.0:
            failures.append(f"geometric mean {geo:.3f} is not below 1.0")
    return geo, failures


def speed() -> None:
    """Seconds to simulate one hour of Poisson arrivals, 100,000 jobs."""
    t0 = time.perf_counter()
    trace = public("steady", 0, 100_000 / (30 * 3600))
    made = time.perf_counter() - t0
    print(f"\n### simulator speed: {len(trace.arrivals):,} jobs over 1 h (steady)\n")
    print(f"- generating the arrivals: {made:.2f} s")
    for name, policy in all_policies(trace.role()).items():
        if name not in ("ours", "keda"):
            continue
        t0 = time.perf_counter()
        run_trace(policy, trace)
        took = time.perf_counter() - t0
        print(f"- simulating under {name} (drawing job times included): {took:.2f} s")


def main() -> int:
    if "--suite" in sys.argv[1:]:
        sys.path.insert(0, str(Path(__file__).parent))
        import suite

        rest = [a for a in sys.argv[1:] if a != "--suite"]
        if "--quick" not in rest and "--held-out" not in rest:
            rest.append("--both")
        return suite.main(rest)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--scales", default="1", help="comma-separated load scales (default 1)")
    parser.add_argument("--traces", default=",".join(PUBLIC), help="comma-separated trace names")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    scales = [float(s) for s in args.scales.split(",")]
    traces = args.traces.split(",")

    if not scaler_available():
        print("note: guvscale.scaling.Scaler is not available: running the peers only")
    failures: list[str] = []
    geos: list[float] = []
    for seed in seeds:
        for scale in scales:
            geo, fails = run_variant(seed, scale, traces)
            failures += [f"seed {seed}, scale {scale:g}: {f}" for f in fails]
            if geo is not None:
                geos.append(geo)
    if scaler_available():
        print("\n### the bar\n")
        if len(geos) > 1:
            overall = math.exp(sum(map(math.log, geos)) / len(geos))
            print(f"geometric mean over variants of the per-variant means: {overall:.3f}")
        print("\n".join(f"- short: {f}" for f in failures) or "met on every variant run")
    if not args.no_speed:
        speed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
