"""Staff pages for referrals: recording one on a customer's behalf (source `admin`)."""
from flask import Blueprint, flash, redirect, render_template, url_for

from rewards.accounts.auth import roles_required
from rewards.contacts import normalize_email
from rewards.customers.service import find_customer_by_email, get_customer_by_code
from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.forms import show_error
from rewards.referrals.forms import StaffReferralForm
from rewards.referrals.service import submit_referral

bp = Blueprint("referrals", __name__)


def find_referrer(text: str):
    """The customer named by an email address or a referral code."""
    text = text.strip()
    if "@" in text:
        customer = find_customer_by_email(normalize_email(text, "referrer"))
        if customer is None:
            raise NotFound("No customer with this email.", "referrer")
        return customer
    try:
        return get_customer_by_code(text)
    except NotFound:
        raise NotFound("No customer with this referral code.", "referrer") from None


@bp.route("/admin/referrals/new", methods=["GET", "POST"])
@roles_required("coordinator")
def new():
    form = StaffReferralForm()
    if form.validate_on_submit():
        try:
            referral = submit_referral(find_referrer(form.referrer.data), form.referee_email.data,
                                       form.referee_name.data, "admin", form.referee_phone.data, form.note.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            show_error(form, exc, "referee_email")
        else:
            flash(f"Referral of {referral.referee_name} recorded for {referral.referrer.name}.", "success")
            return redirect(url_for("referrals.new"))
    return render_template("admin/referral_new.html", form=form), 422 if form.errors else 200
