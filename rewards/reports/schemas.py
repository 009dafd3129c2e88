"""Query arguments of the reports, shared by the JSON API and the finance pages."""
import marshmallow as ma
from marshmallow import ValidationError, fields, validate, validates_schema

from rewards.bounds import MAX_DATE, MIN_DATE
from rewards.errors import InvalidInput
from rewards.schemas import Date, QuerySchema


class ReportQuery(QuerySchema):

    formatted = fields.Boolean(load_default=False, metadata={
        "description": "Add formatted amount columns (currency units) after the contract's columns."})


class PeriodQuery(ReportQuery):
    first = Date(required=True, data_key="from", metadata={"description": "First UTC day, YYYY-MM-DD."})
    last = Date(required=True, data_key="to", metadata={"description": "Last UTC day (included)."})

    @validates_schema
    def from_before_to(self, data, **kwargs):
        if data.get("first") and data.get("last") and data["first"] > data["last"]:
            raise ValidationError("`to` is before `from`.", "to")


class YearQuery(ReportQuery):
    year = fields.Integer(required=True, validate=validate.Range(min=MIN_DATE.year, max=MAX_DATE.year),
                          metadata={"description": "Calendar year (UTC)."})


def load(schema: ma.Schema, args) -> dict:
    """Page arguments through the API's schema; a bad value becomes a 422 naming the field."""
    try:
        return schema.load(args)
    except ValidationError as exc:
        field, messages = next(iter(exc.normalized_messages().items()))
        message = messages[0] if isinstance(messages, list) else str(messages)
        raise InvalidInput(f"{field}: {message}", field) from None
