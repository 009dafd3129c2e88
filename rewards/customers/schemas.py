"""JSON shapes of customers."""
import marshmallow as ma
from marshmallow import fields, validate

from rewards.customers.service import referral_url
from rewards.schemas import InputSchema, UTCDateTime, short_text


class CustomerCreateSchema(InputSchema):
    email = short_text(254, required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    phone = short_text(40, load_default=None, allow_none=True)
    invite = fields.Boolean(load_default=False, metadata={
        "description": "Email the customer an invitation to set a portal password (with her referral link)."})


class CustomerSchema(ma.Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    referral_code = fields.String()
    referral_url = fields.Function(referral_url)
    created_at = UTCDateTime()
