"""Scaling decisions: how many dynos a role needs now, and why."""

from guvscale.scaling.scaler import Scaler
from guvscale.scaling.types import Decision, Observation, Policy

__all__ = ["Decision", "Observation", "Policy", "Scaler"]
