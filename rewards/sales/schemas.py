"""JSON shapes of sales, refunds, imports and decisions."""
import marshmallow as ma
from marshmallow import fields, validate

from rewards.programs.schemas import RewardSchema
from rewards.schemas import Currency, InputSchema, Money, UTCDateTime, short_text


class SaleCreateSchema(InputSchema):
    external_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    email = short_text(254, required=True)
    amount = Money(required=True)
    currency = Currency(required=True)
    occurred_at = UTCDateTime(required=True)
    referral_code = short_text(32, load_default=None, allow_none=True)
    phone = short_text(40, load_default=None, allow_none=True)
    payment_fingerprint = short_text(255, load_default=None, allow_none=True)


class SaleResultSchema(ma.Schema):
    id = fields.Integer()
    external_id = fields.String()
    referral_id = fields.Integer(allow_none=True)
    reward = fields.Nested(RewardSchema, allow_none=True)


class RefundCreateSchema(InputSchema):
    amount = Money(minimum=1, required=True)
    external_id = fields.String(required=True, validate=validate.Length(min=1, max=255))


class RefundSchema(ma.Schema):
    id = fields.Integer()
    external_id = fields.String()
    amount = fields.Integer()
    sale_id = fields.Integer(allow_none=True, metadata={"description": "empty until the sale it names lands"})
    created_at = UTCDateTime()


class ImportErrorSchema(ma.Schema):
    line = fields.Integer()
    message = fields.String()


class ImportResultSchema(ma.Schema):
    created = fields.Integer()
    duplicates = fields.Integer()
    errors = fields.List(fields.Nested(ImportErrorSchema))
    error_count = fields.Integer()


class CheckSchema(ma.Schema):
    name = fields.String()
    passed = fields.Boolean()
    detail = fields.String()


class DecisionSchema(ma.Schema):
    outcome = fields.String()
    checks = fields.List(fields.Nested(CheckSchema))
    sale_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    decided_by = fields.String(attribute="decided_by_label")
    decided_at = UTCDateTime()
