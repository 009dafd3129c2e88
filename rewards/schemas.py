"""Fields and base schemas shared by every JSON endpoint, each within the bounds of rewards.bounds."""
from datetime import timezone

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

from rewards.bounds import (DATE_MESSAGE, MAX_AMOUNT, MAX_ID, MAX_TIME, MIN_TIME, TEXT_MESSAGE, date_in_range,
                            has_control_characters, time_in_range)


class UTCDateTime(fields.AwareDateTime):
    """ISO 8601 with an offset on input, within the sane range; UTC with `Z` on output."""

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if not time_in_range(result):
            raise ValidationError(f"Give a time between {MIN_TIME.isoformat()} and {MAX_TIME.isoformat()}.")
        return result

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Date(fields.Date):
    """YYYY-MM-DD, within the sane range."""

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if not date_in_range(result):
            raise ValidationError(DATE_MESSAGE)
        return result


class Currency(fields.String):
    """A lower-case ISO 4217 code."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Regexp(r"^[a-z]{3}$", error="Must be a lower-case ISO 4217 code."))
        super().__init__(**kwargs)


class Money(fields.Integer):
    """An amount in the currency's minor unit: an integer, never a float, within the amount columns' range."""

    def __init__(self, minimum: int = 0, **kwargs):
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", validate.Range(min=minimum, max=MAX_AMOUNT))
        super().__init__(**kwargs)


class Id(fields.Integer):
    """A record's id: 1…MAX_ID (the primary keys' range). Strict (a JSON number) in bodies; query strings are text."""

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ID))
        super().__init__(**kwargs)


def query_id(**kwargs) -> Id:
    return Id(strict=False, **kwargs)


def _control_characters(data, path=()):
    """Where in a loaded JSON value a string (or key) holds a control character: the path of the first, or None."""
    if isinstance(data, str):
        return path if has_control_characters(data) else None
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return None
    for key, value in items:
        if isinstance(key, str) and has_control_characters(key):
            return path + ("".join(ch for ch in key if not has_control_characters(ch)),)
        found = _control_characters(value, path + (key,))
        if found is not None:
            return found
    return None


class _NoControlCharacters(ma.Schema):
    """No string anywhere in the input holds a NUL or another control character (tab and newlines are fine)."""

    @ma.pre_load
    def refuse_control_characters(self, data, **kwargs):
        found = _control_characters(data)
        if found is not None:
            raise ValidationError(TEXT_MESSAGE, str(found[0]) if found else "_schema")
        return data


class InputSchema(_NoControlCharacters):
    """Request bodies: unknown fields are refused with 422, not silently dropped."""

    class Meta:
        unknown = ma.RAISE


def short_text(max_length=200, **kwargs):
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


class QuerySchema(_NoControlCharacters):
    """Query strings: paging parameters sit beside the filters, so other keys are ignored."""

    class Meta:
        unknown = ma.EXCLUDE
