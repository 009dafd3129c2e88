"""Audit trail."""
from rewards.audit.service import record  # noqa: F401
