"""Helpers shared by the server-rendered forms."""
from wtforms import Form

from rewards.errors import DomainError


def show_error(form: Form, error: DomainError, fallback: str, renames: dict | None = None) -> None:
    """Show a service's refusal under the form field it concerns (`renames` maps service field → form field)."""
    name = (renames or {}).get(error.field, error.field)
    field = getattr(form, name, None) if name else None
    (field if field is not None else getattr(form, fallback)).errors.append(error.message)
