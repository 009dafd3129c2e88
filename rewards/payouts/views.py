"""Pages: finance's payout batches and referrer histories, and the customer's payouts in the portal."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from rewards.accounts.auth import roles_required
from rewards.customers.service import get_customer
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.forms import show_error
from rewards.money import to_minor_units
from rewards.payouts import accounts, overview, service, stripe_client
from rewards.payouts.api import onboarding_urls
from rewards.payouts.forms import AttachAccountForm, ButtonForm, DraftBatchForm, MarkPaidForm
from rewards.payouts.tasks import queue_execution

bp = Blueprint("payouts_pages", __name__)


def _act(action, success: str, batch_id: int):
    """Run a batch action from a button: commit and flash its result, or flash why it was refused."""
    if not ButtonForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    try:
        action()
        db.session.commit()
        flash(success, "success")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    return redirect(url_for("payouts_pages.batch", batch_id=batch_id))


@bp.post("/finance/payouts")
@roles_required("finance")
def draft():
    form = DraftBatchForm()
    if form.validate_on_submit():
        currency = form.currency.data.lower()
        try:
            minimum = to_minor_units(form.minimum.data, currency) if form.minimum.data else None
            batch = service.draft_batch(currency, minimum, current_user)
            db.session.commit()
        except ValueError as error:
            form.minimum.errors.append(str(error))
        except DomainError as error:
            db.session.rollback()
            show_error(form, error, "currency", {"minimum_amount": "minimum"})
        else:
            flash(f"Batch {batch.id} drafted: {len(batch.items)} referrer(s). A second person must approve it.",
                  "success")
            return redirect(url_for("payouts_pages.batch", batch_id=batch.id))
    return render_template("admin/finance.html", draft_form=form, **overview.finance_home()), 422


@bp.get("/finance/payouts/<int:batch_id>")
@roles_required("finance")
def batch(batch_id):
    found = service.get_batch(batch_id)
    customers = overview.customers_of(found)
    return render_template("payouts/batch.html", batch=found, progress=service.progress(found), customers=customers,
                           button=ButtonForm(), mark_paid=MarkPaidForm(),
                           stripe_configured=stripe_client.is_configured())


@bp.post("/finance/payouts/<int:batch_id>/approve")
@roles_required("finance")
def approve(batch_id):
    return _act(lambda: service.approve_batch(batch_id, current_user), "Approved. It can be executed now.", batch_id)


@bp.post("/finance/payouts/<int:batch_id>/cancel")
@roles_required("finance")
def cancel(batch_id):
    return _act(lambda: service.cancel_batch(batch_id), "Cancelled: its rewards are payable again.", batch_id)


@bp.post("/finance/payouts/<int:batch_id>/execute")
@roles_required("finance")
def execute(batch_id):
    if not ButtonForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    try:
        service.prepare_execution(batch_id)
        db.session.commit()
        queue_execution(batch_id)
        flash("Executing: transfers are on their way.", "success")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    return redirect(url_for("payouts_pages.batch", batch_id=batch_id))


@bp.post("/finance/payouts/<int:batch_id>/items/<int:item_id>/retry")
@roles_required("finance")
def retry_item(batch_id, item_id):
    if not ButtonForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    try:
        service.retry_item(batch_id, item_id)
        db.session.commit()
        queue_execution(batch_id)
        flash(f"Item {item_id} is being tried again.", "success")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    return redirect(url_for("payouts_pages.batch", batch_id=batch_id))


@bp.post("/finance/payouts/<int:batch_id>/items/<int:item_id>/mark-paid")
@roles_required("finance")
def mark_paid(batch_id, item_id):
    form = MarkPaidForm()
    if not form.validate_on_submit():
        flash("Give the payment's reference to mark the item paid.", "danger")
        return redirect(url_for("payouts_pages.batch", batch_id=batch_id))
    return _mark_paid(batch_id, item_id, form.reference.data)


def _mark_paid(batch_id, item_id, reference):
    try:
        service.mark_paid_manually(batch_id, item_id, reference, current_user)
        db.session.commit()
        flash(f"Item {item_id} marked paid ({reference}).", "success")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    return redirect(url_for("payouts_pages.batch", batch_id=batch_id))


@bp.route("/finance/referrers/<int:customer_id>/payouts", methods=["GET", "POST"])
@roles_required("finance")
def referrer(customer_id):
    customer = get_customer(customer_id)
    form = AttachAccountForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.attach_account(customer, form.stripe_account_id.data)
            db.session.commit()
            flash("Payout account attached.", "success")
            return redirect(url_for("payouts_pages.referrer", customer_id=customer_id))
        except DomainError as error:
            db.session.rollback()
            show_error(form, error, "stripe_account_id")
    if form.errors:
        status = 422
    return render_template("payouts/referrer.html", customer=customer, account=accounts.payout_account(customer.id),
                           items=overview.payouts_of(customer.id), form=form), status


def _own_customer():
    if current_user.customer is None:
        abort(404)
    return current_user.customer


@bp.get("/portal/payouts")
@roles_required("customer")
def portal():
    customer = _own_customer()
    return render_template("payouts/portal.html", customer=customer, account=accounts.payout_account(customer.id),
                           items=overview.payouts_of(customer.id), button=ButtonForm(),
                           email_confirmed=accounts.email_confirmed(customer),
                           stripe_configured=stripe_client.is_configured())


def _to_stripe(make_link):
    try:
        url = make_link()
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for("payouts_pages.portal"))
    return redirect(url, code=303)


@bp.post("/portal/payouts/connect")
@roles_required("customer")
def connect():
    if not ButtonForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    customer = _own_customer()
    return _to_stripe(lambda: accounts.start_onboarding(customer, *onboarding_urls()))


@bp.get("/portal/payouts/refresh")
@roles_required("customer")
def onboarding_refresh():
    """Stripe sends the customer here when the onboarding link expired: a fresh link, straight back to Stripe."""
    customer = _own_customer()
    return _to_stripe(lambda: accounts.start_onboarding(customer, *onboarding_urls()))


@bp.get("/portal/payouts/return")
@roles_required("customer")
def onboarding_return():
    """Back from Stripe: read the account's state now (the webhook may come later) and show it."""
    customer = _own_customer()
    try:
        account = accounts.refresh_account(customer.id)
        db.session.commit()
        flash("Your payout account is ready." if account.ready else
              "Stripe still needs some details before you can be paid.", "success" if account.ready else "warning")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "warning")
    return redirect(url_for("payouts_pages.portal"))


@bp.post("/portal/payouts/dashboard")
@roles_required("customer")
def dashboard():
    if not ButtonForm().validate_on_submit():
        abort(400, description="The form expired: reload the page and try again.")
    customer = _own_customer()
    return _to_stripe(lambda: accounts.dashboard_link(customer.id))
