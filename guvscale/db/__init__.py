"""Persistence: engine, typed models, tenant scoping and encryption at rest."""
