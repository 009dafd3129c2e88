"""Fields and base schemas shared by every JSON endpoint."""
from datetime import timezone

import marshmallow as ma
from marshmallow import fields, validate


class UTCDateTime(fields.AwareDateTime):
    """ISO 8601 with an offset on input; UTC with `Z` on output."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Currency(fields.String):
    """A lower-case ISO 4217 code."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", validate.Regexp(r"^[a-z]{3}$", error="Must be a lower-case ISO 4217 code."))
        super().__init__(**kwargs)


class Money(fields.Integer):
    """An amount in the currency's minor unit: an integer, never a float."""

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", validate.Range(min=0, max=10**13))
        super().__init__(**kwargs)


class InputSchema(ma.Schema):
    """Request bodies: unknown fields are refused with 422, not silently dropped."""

    class Meta:
        unknown = ma.RAISE


def short_text(max_length=200, **kwargs):
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


class QuerySchema(ma.Schema):
    """Query strings: paging parameters sit beside the filters, so other keys are ignored."""

    class Meta:
        unknown = ma.EXCLUDE
