"""Audit trail."""
from rewards.audit.service import event_row, record, record_many  # noqa: F401
