"""Payout accounts and payout batches endpoints of /api/v1."""
from flask import current_app, has_request_context, request, url_for
from flask.views import MethodView
from flask_login import current_user

from rewards.accounts.auth import roles_required
from rewards.api import Blueprint
from rewards.api.pagination import paginate
from rewards.customers.service import get_customer
from rewards.errors import NotFound
from rewards.extensions import db
from rewards.payouts import accounts, service
from rewards.payouts.schemas import (BatchCreateSchema, BatchQuerySchema, BatchSchema, BatchSummarySchema,
                                     ItemSchema, LinkSchema, MarkPaidSchema, PayoutAccountAttachSchema,
                                     PayoutAccountSchema)
from rewards.payouts.tasks import queue_execution

accounts_blp = Blueprint("payout_accounts_api", __name__, url_prefix="/api/v1/customers",
                         description="Customers' payout accounts on Stripe Connect")
batches_blp = Blueprint("payout_batches_api", __name__, url_prefix="/api/v1/payout-batches",
                        description="Payout batches: drafted, approved by a second person, executed")


def public_url(endpoint: str) -> str:
    """An absolute link to a page of ours: PUBLIC_BASE_URL when set, else this request's host."""
    base = current_app.config.get("PUBLIC_BASE_URL") or (request.host_url if has_request_context() else None)
    return (base or "http://localhost:5000").rstrip("/") + url_for(endpoint)


def onboarding_urls() -> tuple[str, str]:
    """(refresh_url, return_url) for Stripe's onboarding: the portal's pages."""
    return public_url("payouts_pages.onboarding_refresh"), public_url("payouts_pages.onboarding_return")


@accounts_blp.route("/<int:customer_id>/payout-account")
class PayoutAccountOfCustomer(MethodView):
    @roles_required("finance", "customer")
    @accounts_blp.response(200, PayoutAccountSchema)
    def get(self, customer_id):
        """The customer's payout account and its readiness; a customer sees only their own."""
        customer = get_customer(customer_id, current_user)
        account = accounts.payout_account(customer.id)
        if account is None:
            raise NotFound("This customer has no payout account yet.")
        return account

    @roles_required("finance")
    @accounts_blp.arguments(PayoutAccountAttachSchema)
    @accounts_blp.response(200, PayoutAccountSchema)
    def put(self, data, customer_id):
        """Attach an existing Stripe connected account, checked with Stripe (unknown account: 422)."""
        account = accounts.attach_account(get_customer(customer_id), data["stripe_account_id"])
        db.session.commit()
        return account


@accounts_blp.route("/<int:customer_id>/payout-account/onboarding")
class PayoutAccountOnboarding(MethodView):
    @roles_required("finance", "customer")
    @accounts_blp.response(200, LinkSchema)
    def post(self, customer_id):
        """A Stripe Connect onboarding link (an Express account is made on first use)."""
        customer = get_customer(customer_id, current_user)
        url = accounts.start_onboarding(customer, *onboarding_urls())
        db.session.commit()
        return {"url": url}


@batches_blp.route("")
class PayoutBatches(MethodView):
    @roles_required("finance")
    @batches_blp.arguments(BatchQuerySchema, location="query")
    @batches_blp.response(200, BatchSummarySchema(many=True))
    @batches_blp.paginate()
    def get(self, args, pagination_parameters):
        """Payout batches, newest first, optionally of one status."""
        return paginate(service.batches_query(args.get("status")), pagination_parameters)

    @roles_required("finance")
    @batches_blp.arguments(BatchCreateSchema)
    @batches_blp.response(201, BatchSchema)
    def post(self, data):
        """Draft a batch of everyone payable in the currency; 409 when nothing is payable."""
        batch = service.draft_batch(data["currency"], data.get("minimum_amount"), current_user)
        db.session.commit()
        return batch


@batches_blp.route("/<int:batch_id>")
class PayoutBatchById(MethodView):
    @roles_required("finance")
    @batches_blp.response(200, BatchSchema)
    def get(self, batch_id):
        """One batch with its items and the referrers left out."""
        return service.get_batch(batch_id)


@batches_blp.route("/<int:batch_id>/cancel")
class CancelPayoutBatch(MethodView):
    @roles_required("finance")
    @batches_blp.response(200, BatchSchema)
    def post(self, batch_id):
        """Cancel a draft: its rewards become payable again (409 for any other status)."""
        batch = service.cancel_batch(batch_id)
        db.session.commit()
        return batch


@batches_blp.route("/<int:batch_id>/approve")
class ApprovePayoutBatch(MethodView):
    @roles_required("finance")
    @batches_blp.response(200, BatchSchema)
    def post(self, batch_id):
        """Approve a draft: a finance or admin user other than its creator (403 for the creator)."""
        batch = service.approve_batch(batch_id, current_user)
        db.session.commit()
        return batch


@batches_blp.route("/<int:batch_id>/execute")
class ExecutePayoutBatch(MethodView):
    @roles_required("finance")
    @batches_blp.response(202, BatchSummarySchema)
    def post(self, batch_id):
        """Send the batch's transfers in the background; on a batch that ran, failed items are tried again."""
        batch = service.prepare_execution(batch_id)
        db.session.commit()
        queue_execution(batch.id)
        db.session.expire_all()
        return service.get_batch(batch_id)


@batches_blp.route("/<int:batch_id>/items/<int:item_id>/mark-paid")
class MarkItemPaid(MethodView):
    @roles_required("finance")
    @batches_blp.arguments(MarkPaidSchema)
    @batches_blp.response(200, ItemSchema)
    def post(self, data, batch_id, item_id):
        """A failed or review item paid outside Stripe, with its reference (bank transfer, cheque)."""
        item = service.mark_paid_manually(batch_id, item_id, data["reference"], current_user)
        db.session.commit()
        return item
