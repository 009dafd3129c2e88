"""JSON shapes of payout accounts, batches and items."""
import marshmallow as ma
from marshmallow import fields, validate

from rewards.payouts.models import BATCH_STATUSES
from rewards.schemas import Currency, InputSchema, Money, QuerySchema, UTCDateTime


class PayoutAccountAttachSchema(InputSchema):
    stripe_account_id = fields.String(required=True, validate=validate.Regexp(
        r"^acct_[A-Za-z0-9]{1,60}$", error="A Stripe connected account id looks like acct_…"))


class PayoutAccountSchema(ma.Schema):
    customer_id = fields.Integer()
    stripe_account_id = fields.String()
    ready = fields.Boolean()
    payouts_enabled = fields.Boolean()
    transfers_capability = fields.String()
    details_submitted = fields.Boolean()
    requirements_due = fields.List(fields.String())
    disabled_reason = fields.String(allow_none=True)
    updated_at = UTCDateTime()


class LinkSchema(ma.Schema):
    url = fields.String()


class BatchCreateSchema(InputSchema):
    currency = Currency(required=True)
    minimum_amount = Money(minimum=1, load_default=None, allow_none=True)


class BatchQuerySchema(QuerySchema):
    status = fields.String(load_default=None, validate=validate.OneOf(BATCH_STATUSES))


class MarkPaidSchema(InputSchema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ItemSchema(ma.Schema):
    id = fields.Integer()
    batch_id = fields.Integer()
    customer_id = fields.Integer()
    amount = fields.Integer()
    currency = fields.String()
    status = fields.String()
    method = fields.String()
    stripe_transfer_id = fields.String(allow_none=True)
    transfer_group = fields.String()
    reference = fields.String(allow_none=True)
    failure_code = fields.String(allow_none=True)
    failure_message = fields.String(allow_none=True)
    attempt_generation = fields.Integer()
    reversed_amount = fields.Integer()
    paid_at = UTCDateTime(allow_none=True)


class SkippedSchema(ma.Schema):
    customer_id = fields.Integer()
    reason = fields.String()


class BatchSummarySchema(ma.Schema):
    id = fields.Integer()
    status = fields.String()
    currency = fields.String()
    total = fields.Integer()
    minimum_amount = fields.Integer()
    created_by_id = fields.Integer(allow_none=True)
    approved_by_id = fields.Integer(allow_none=True)
    created_at = UTCDateTime()
    approved_at = UTCDateTime(allow_none=True)
    finished_at = UTCDateTime(allow_none=True)


class BatchSchema(BatchSummarySchema):
    items = fields.List(fields.Nested(ItemSchema))
    skipped = fields.List(fields.Nested(SkippedSchema))
