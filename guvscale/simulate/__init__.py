"""Judge scaling policies on simulated workloads (scaling.md section 5)."""

from guvscale.simulate.engine import EPOCH, SimConfig, draw_durations, run, run_trace
from guvscale.simulate.metrics import Series, SimResult
from guvscale.simulate.stepsim import run_steps, run_trace_steps
from guvscale.simulate.traces import PUBLIC, Trace, TraceError, load_csv, parse_csv, public

__all__ = [
    "EPOCH",
    "PUBLIC",
    "Series",
    "SimConfig",
    "SimResult",
    "Trace",
    "TraceError",
    "draw_durations",
    "load_csv",
    "parse_csv",
    "public",
    "run",
    "run_steps",
    "run_trace",
    "run_trace_steps",
]
