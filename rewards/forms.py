"""Helpers shared by the server-rendered forms."""
from datetime import date, datetime

from wtforms import Form, ValidationError
from wtforms.validators import NumberRange

from rewards.bounds import DATE_MESSAGE, MAX_AMOUNT, MAX_ID, date_in_range
from rewards.errors import DomainError


def id_range():
    """A record number typed into a form: 1…MAX_ID, as the API takes."""
    return NumberRange(min=1, max=MAX_ID)


def amount_range(minimum: int = 0):
    """An amount in minor units typed into a form: what the amount columns hold."""
    return NumberRange(min=minimum, max=MAX_AMOUNT)


def sane_date(form, field):
    """A date (or date and time) field within the sane range of rewards.bounds."""
    value = field.data
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date) and not date_in_range(value):
        raise ValidationError(DATE_MESSAGE)


def show_error(form: Form, error: DomainError, fallback: str, renames: dict | None = None) -> None:
    """Show a service's refusal under the form field it concerns (`renames` maps service field → form field)."""
    name = (renames or {}).get(error.field, error.field)
    field = getattr(form, name, None) if name else None
    (field if field is not None else getattr(form, fallback)).errors.append(error.message)
