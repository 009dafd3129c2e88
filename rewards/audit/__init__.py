"""Audit trail."""
from rewards.audit.service import record, record_many  # noqa: F401
