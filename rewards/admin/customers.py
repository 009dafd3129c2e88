"""Staff pages for customers: list and search, detail with referrals and rewards, enrolment, resending the link."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from rewards.accounts.auth import roles_required
from rewards.admin import service
from rewards.admin.forms import EnrolForm
from rewards.admin.paging import COUNT_CAP, capped_page, page_arg, url_args
from rewards.admin.search import SEARCH_COUNT_CAP, name_or_email_matches
from rewards.customers.models import Customer
from rewards.customers.service import enroll_customer, get_customer, referral_url
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.ledger.balances import balances, customer_balances
from rewards.programs.models import Reward
from rewards.referrals.models import Referral

bp = Blueprint("admin_customers", __name__, url_prefix="/admin/customers")
PAGE_SIZE = 50


@bp.route("")
@roles_required("coordinator", "finance")
def index():
    q = (request.args.get("q") or "").strip()
    query = select(Customer).order_by(Customer.created_at.desc(), Customer.id.desc())
    if q:
        query = query.where(name_or_email_matches(Customer.name, Customer.email, q))
    page = capped_page(query, page_arg(), PAGE_SIZE, cap=SEARCH_COUNT_CAP if q else COUNT_CAP)
    return render_template("admin/customers.html", page=page, q=q, url_args=url_args,
                           totals=list_totals([c.id for c in page.items]))


def list_totals(customer_ids: list[int]) -> dict[int, dict]:
    """Per customer of a list page: referrals, qualified ones, and per currency the money earned and not yet paid
    (on hold, payable or in a payout), read from the one balance read model (rewards.ledger.balances)."""
    totals = {cid: {"referrals": 0, "qualified": 0, "balances": {}} for cid in customer_ids}
    if not customer_ids:
        return totals
    for referrer_id, status, count in db.session.execute(
            select(Referral.referrer_id, Referral.status, func.count()).where(Referral.referrer_id.in_(customer_ids))
            .group_by(Referral.referrer_id, Referral.status)):
        totals[referrer_id]["referrals"] += count
        if status == "qualified":
            totals[referrer_id]["qualified"] += count
    for customer_id, per_currency in balances(customer_ids).items():
        totals[customer_id]["balances"] = {b.currency: b.held + b.payable + b.batched for b in per_currency}
    return totals


@bp.route("/new", methods=["GET", "POST"])
@roles_required("coordinator")
def new():
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            customer = enroll_customer(form.email.data, form.name.data, form.phone.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            getattr(form, exc.field or "email", form.email).errors.append(exc.message)
        else:
            flash(f"{customer.name} is enrolled. Their referral link is below.", "success")
            return redirect(url_for("admin_customers.detail", customer_id=customer.id))
    return render_template("admin/customer_new.html", form=form), 422 if form.errors else 200


@bp.route("/<int:customer_id>")
@roles_required("coordinator", "finance")
def detail(customer_id):
    customer = get_customer(customer_id)
    referrals = db.session.scalars(select(Referral).where(Referral.referrer_id == customer.id)
                                   .order_by(Referral.created_at.desc(), Referral.id.desc()).limit(50)).all()
    referral_count = db.session.scalar(select(func.count()).where(Referral.referrer_id == customer.id))
    rewards = db.session.scalars(select(Reward).where(Reward.referrer_id == customer.id)
                                 .order_by(Reward.created_at.desc(), Reward.id.desc())).all()
    return render_template("admin/customer.html", customer=customer, link=referral_url(customer),
                           referrals=referrals, referral_count=referral_count, rewards=rewards,
                           balances=customer_balances(customer.id))


@bp.route("/<int:customer_id>/resend-link", methods=["POST"])
@roles_required("coordinator")
def resend_link(customer_id):
    customer = get_customer(customer_id)
    link = referral_url(customer)
    service.record_link_sent(customer, link)
    db.session.commit()
    flash(f"Link recorded as sent to {customer.email}. Refero does not send email yet, so please pass it on "
          f"yourself: {link}", "info")
    return redirect(url_for("admin_customers.detail", customer_id=customer.id))
