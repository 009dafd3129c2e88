"""Referrals endpoints of /api/v1."""
from flask.views import MethodView
from flask_login import current_user
from rewards.api import Blueprint

from rewards.accounts.auth import roles_required
from rewards.api.pagination import paginate
from rewards.customers.service import get_customer, get_customer_by_code
from rewards.errors import InvalidInput
from rewards.extensions import db
from rewards.referrals import service
from rewards.referrals.schemas import (ReferralCreateSchema, ReferralDetailSchema, ReferralQuerySchema,
                                      ReferralSchema, RejectSchema)
from rewards.referrals import review

blp = Blueprint("referrals_api", __name__, url_prefix="/api/v1/referrals", description="Who referred whom")


def _referrer_for(data):
    """The referrer a request names; a customer's key always refers as that customer."""
    if current_user.role == "customer":
        own = current_user.customer
        named = data.get("referral_code") or data.get("referrer_id")
        if own is None or (named and named not in (own.referral_code, own.id)):
            raise InvalidInput("A customer may submit referrals only as themselves.", "referrer_id")
        return own
    if data.get("referral_code"):
        return get_customer_by_code(data["referral_code"])
    if data.get("referrer_id"):
        return get_customer(data["referrer_id"])
    raise InvalidInput("referral_code or referrer_id is required.", "referral_code")


@blp.route("")
class Referrals(MethodView):
    @roles_required("coordinator", "finance", "customer")
    @blp.arguments(ReferralQuerySchema, location="query")
    @blp.response(200, ReferralSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Referrals, newest first; a customer sees only their own."""
        query = service.referrals_query(current_user, args.get("status"), args.get("referrer_id"))
        return paginate(query, pagination_parameters)

    @roles_required("coordinator", "customer")
    @blp.arguments(ReferralCreateSchema)
    @blp.response(201, ReferralSchema)
    def post(self, data):
        """Record a referral (source `api`)."""
        referral = service.submit_referral(
            _referrer_for(data), data["referee_email"], data["referee_name"], "api",
            data.get("referee_phone"), data.get("note"))
        db.session.commit()
        return referral


@blp.route("/<int:referral_id>")
class ReferralById(MethodView):
    @roles_required("coordinator", "finance", "customer")
    @blp.response(200, ReferralDetailSchema)
    def get(self, referral_id):
        """One referral with its latest decision; another customer's answers 404."""
        return service.get_referral(referral_id, current_user)


@blp.route("/<int:referral_id>/approve")
class ApproveReferral(MethodView):
    @roles_required("coordinator")
    @blp.response(200, ReferralDetailSchema)
    def post(self, referral_id):
        """Approve a referral in review: it qualifies and earns its reward (409 unless in review)."""
        referral, _ = review.approve_referral(referral_id, current_user)
        db.session.commit()
        return referral


@blp.route("/<int:referral_id>/reject")
class RejectReferral(MethodView):
    @roles_required("coordinator")
    @blp.arguments(RejectSchema)
    @blp.response(200, ReferralDetailSchema)
    def post(self, data, referral_id):
        """Reject a pending or flagged referral, with the reason (409 once decided)."""
        referral = review.reject_referral(referral_id, current_user, data["reason"])
        db.session.commit()
        return referral
