"""JSON shapes of referrals."""
import marshmallow as ma
from flask import has_request_context
from flask_login import current_user
from marshmallow import ValidationError, fields, validate, validates_schema

from rewards.referrals.models import STATUSES
from rewards.schemas import Id, InputSchema, QuerySchema, UTCDateTime, query_id, short_text


class ReferralCreateSchema(InputSchema):
    referral_code = short_text(64)
    referrer_id = Id()
    referee_email = short_text(254, required=True)
    referee_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    referee_phone = short_text(40, load_default=None, allow_none=True)
    note = short_text(2000, load_default=None, allow_none=True)

    @validates_schema
    def one_referrer(self, data, **kwargs):
        if "referral_code" in data and "referrer_id" in data:
            raise ValidationError("Give referral_code or referrer_id, not both.", "referral_code")


class ReferralQuerySchema(QuerySchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    referrer_id = query_id()


class ReferralSchema(ma.Schema):
    id = fields.Integer()
    referrer_id = fields.Integer()
    referee_email = fields.String()
    referee_name = fields.String()
    referee_phone = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    status = fields.String()
    status_message = fields.Method("get_status_message", metadata={
        "description": "Where the referral stands, in one plain sentence."})
    source = fields.String()
    created_at = UTCDateTime()

    def get_status_message(self, referral):
        from rewards.referrals.service import status_sentence

        return status_sentence(referral)


class ReferralDetailSchema(ReferralSchema):
    """One referral with the latest decision on it (null until a sale was weighed).

    The decision (checks, amounts, sale and other referrals' numbers) is for staff: a customer sees null and
    reads `status_message`.
    """

    decision = fields.Method("get_decision", allow_none=True, metadata={
        "description": "Staff only: null for a customer, and until a sale was weighed."})

    def get_decision(self, referral):
        from rewards.referrals.review import latest_decision

        if has_request_context() and current_user.is_authenticated and current_user.role == "customer":
            return None
        from rewards.sales.schemas import DecisionSchema

        decision = latest_decision(referral.id)
        return DecisionSchema().dump(decision) if decision is not None else None


class RejectSchema(InputSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
