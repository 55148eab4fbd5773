"""Every policy the benchmark compares, built from one role.

Ours and guv come from the model's `Scaler` (`guvscale.scaling`), imported
only when asked for, so the peers can run before (or without) it.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable

from guvscale.rules.types import Role
from guvscale.scaling.types import Policy
from guvscale.simulate.baselines import Dynomatic, HireFire, Keda

PEERS: dict[str, Callable[[Role], Policy]] = {
    "keda": lambda role: Keda(role),
    "hirefire": lambda role: HireFire(role),
    "dynomatic": lambda role: Dynomatic(role),
}


def scaler_available() -> bool:
    try:
        module = importlib.import_module("guvscale.scaling")
    except ImportError:
        return False
    return hasattr(module, "Scaler")


def scaler(role: Role) -> Policy:
    """The model's Scaler for `role` as written (`role.model` picks ours or guv's)."""
    module = importlib.import_module("guvscale.scaling")
    policy: Policy = module.Scaler(role)
    return policy


def ours(role: Role) -> Policy:
    return scaler(dataclasses.replace(role, model="guvscale"))


def guv(role: Role) -> Policy:
    return scaler(dataclasses.replace(role, model="guv"))


def all_policies(role: Role, with_scaler: bool = True) -> dict[str, Policy]:
    """name -> fresh policy: ours and guv (when asked and available), then the peers."""
    out: dict[str, Policy] = {}
    if with_scaler and scaler_available():
        out["ours"] = ours(role)
        out["guv"] = guv(role)
    out.update((name, make(role)) for name, make in PEERS.items())
    return out
