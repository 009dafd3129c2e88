"""JSON shapes of programs, rewards, balances and what-if runs."""
from decimal import Decimal, InvalidOperation

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

from rewards.programs.models import REWARD_STATUSES, REWARD_TYPES
from rewards.schemas import Currency, Date, InputSchema, Money, QuerySchema, UTCDateTime, query_id, short_text


class Percent(fields.String):
    """A percentage given as a string ("12.5") so no float ever touches it; written back the same way."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError('Give the percent as a string, e.g. "12.5".')
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError("Not a valid number.") from None
        if not number.is_finite():
            raise ValidationError("Not a valid number.")
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return format(Decimal(value).normalize(), "f")



class TierSchema(InputSchema):
    from_referral = fields.Integer(strict=True, required=True, validate=validate.Range(min=2, max=1_000_000))
    amount = Money(load_default=None, allow_none=True)
    percent = Percent(load_default=None, allow_none=True)


class RulesSchema(InputSchema):
    """The reward rules of one program version (also the candidate of a what-if run)."""

    currency = Currency(required=True)
    reward_type = fields.String(required=True, validate=validate.OneOf(REWARD_TYPES))
    amount = Money(load_default=None, allow_none=True)
    percent = Percent(load_default=None, allow_none=True)
    min_sale_amount = Money(required=True)
    max_reward_amount = Money(load_default=None, allow_none=True)
    attribution_days = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=3650))
    hold_days = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=3650))
    yearly_cap_amount = Money(load_default=None, allow_none=True)
    tiers = fields.List(fields.Nested(TierSchema), load_default=list)
    referee_coupon_code = short_text(64, load_default=None, allow_none=True)
    referee_credit_amount = Money(load_default=None, allow_none=True)


class ProgramCreateSchema(RulesSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    effective_from = UTCDateTime(load_default=None, allow_none=True)


class ProgramQuerySchema(QuerySchema):
    currency = Currency()


class TierOutSchema(ma.Schema):
    from_referral = fields.Integer()
    amount = fields.Integer(allow_none=True)
    percent = Percent(allow_none=True)


class ProgramSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    currency = fields.String()
    version = fields.Integer()
    reward_type = fields.String()
    amount = fields.Integer(allow_none=True)
    percent = Percent(allow_none=True)
    min_sale_amount = fields.Integer()
    max_reward_amount = fields.Integer(allow_none=True)
    attribution_days = fields.Integer()
    hold_days = fields.Integer()
    yearly_cap_amount = fields.Integer(allow_none=True)
    tiers = fields.List(fields.Nested(TierOutSchema))
    referee_coupon_code = fields.String(allow_none=True)
    referee_credit_amount = fields.Integer(allow_none=True)
    effective_from = UTCDateTime()
    active = fields.Boolean()
    created_at = UTCDateTime()


class RewardSchema(ma.Schema):
    id = fields.Integer()
    referral_id = fields.Integer()
    referrer_id = fields.Integer()
    sale_id = fields.Integer()
    program_id = fields.Integer()
    amount = fields.Integer()
    granted_amount = fields.Integer()
    clawback_amount = fields.Integer()
    currency = fields.String()
    status = fields.String(attribute="effective_status")
    payable_at = UTCDateTime()
    reversed_reason = fields.String(allow_none=True)
    referee_coupon_code = fields.String(allow_none=True)
    referee_credit_amount = fields.Integer(allow_none=True)
    created_at = UTCDateTime()


class RewardQuerySchema(QuerySchema):
    referrer_id = query_id()
    status = fields.String(validate=validate.OneOf(REWARD_STATUSES))


class BalanceSchema(ma.Schema):
    currency = fields.String()
    held = fields.Integer()
    payable = fields.Integer()
    paid = fields.Integer()
    batched = fields.Integer()
    earned = fields.Integer()
    reversed = fields.Integer()
    owed = fields.Integer()


class WhatIfSchema(RulesSchema):
    from_date = Date(required=True, data_key="from")
    to_date = Date(required=True, data_key="to")
    hold_days = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=3650))


class FiguresSchema(ma.Schema):
    qualified = fields.Integer()
    rewards = fields.Integer()
    cost = fields.Integer()


class WhatIfResultSchema(ma.Schema):
    currency = fields.String()
    from_date = fields.Date(data_key="from")
    to_date = fields.Date(data_key="to")
    sales = fields.Integer()
    actual = fields.Nested(FiguresSchema)
    candidate = fields.Nested(FiguresSchema)
