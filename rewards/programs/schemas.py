"""JSON shapes of programs and rewards."""
import marshmallow as ma
from marshmallow import fields

from rewards.schemas import UTCDateTime


class RewardSchema(ma.Schema):
    id = fields.Integer()
    referral_id = fields.Integer()
    referrer_id = fields.Integer()
    sale_id = fields.Integer()
    program_id = fields.Integer()
    amount = fields.Integer()
    currency = fields.String()
    status = fields.String(attribute="effective_status")
    payable_at = UTCDateTime()
    created_at = UTCDateTime()
