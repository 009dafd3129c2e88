"""The customer portal and the referee's landing page."""
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from rewards.accounts.auth import roles_required
from rewards.bounds import page_arg
from rewards.contacts import phone_hint
from rewards.customers.service import get_customer_by_code, referral_url
from rewards.errors import DomainError, NotFound
from rewards.extensions import db, limiter
from rewards.forms import show_error
from rewards.ledger.balances import customer_balances
from rewards.notifications import service as notifications
from rewards.portal.earnings import rewards_page
from rewards.portal.forms import LandingForm, ReferralForm, preferences_form
from rewards.portal.share import qr_svg, share_links
from rewards.programs.explain import programs_in_force, referee_offer, referrer_sentence
from rewards.referrals.service import get_referral, referrals_query, status_sentence, submit_referral

bp = Blueprint("portal", __name__)
PAGE_SIZE = 20
# Where a referral came from, as the referrer reads it.
CUSTOMER_SOURCE_WORDS = {"portal": "you", "link": "your shared link", "api": "our team", "admin": "our team"}


def _own_customer():
    if current_user.customer is None:
        abort(404)
    return current_user.customer


@bp.route("/portal")
@roles_required("customer")
def home():
    customer = _own_customer()
    page = db.paginate(referrals_query(current_user), page=page_arg(),
                       per_page=PAGE_SIZE, error_out=False)
    rewards = rewards_page(customer.id, page_arg("rewards_page"), PAGE_SIZE)
    link = referral_url(customer)
    return render_template("portal/home.html", customer=customer, link=link, page=page,
                           earnings=customer_balances(customer.id), rewards=rewards,
                           share=share_links(link, current_app.config["BUSINESS_NAME"]),
                           explained=[referrer_sentence(p) for p in programs_in_force()],
                           sources=CUSTOMER_SOURCE_WORDS)


@bp.route("/portal/qr.svg")
@roles_required("customer")
def qr_code():
    """The QR code of the customer's own referral link, drawn here (no outside service sees the link)."""
    return Response(qr_svg(referral_url(_own_customer())), mimetype="image/svg+xml")


@bp.route("/portal/referrals/new", methods=["GET", "POST"])
@roles_required("customer")
def new_referral():
    customer = _own_customer()
    form = ReferralForm()
    form.referee_phone.description = phone_hint()
    if form.validate_on_submit():
        try:
            submit_referral(customer, form.referee_email.data, form.referee_name.data, "portal",
                            form.referee_phone.data, form.note.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            show_error(form, exc, "referee_email")
        else:
            flash(f"Thank you! {form.referee_name.data} is referred.", "success")
            return redirect(url_for("portal.home"))
    return render_template("portal/new_referral.html", form=form), 422 if form.errors else 200


@bp.route("/portal/referrals/<int:referral_id>")
@roles_required("customer")
def referral_detail(referral_id):
    referral = get_referral(referral_id, current_user)
    return render_template("portal/referral.html", referral=referral, sources=CUSTOMER_SOURCE_WORDS,
                           status_message=status_sentence(referral))


def _per_client_limit():
    return current_app.config["LANDING_RATE_LIMIT_PER_CLIENT"]


def _per_code_limit():
    return current_app.config["LANDING_RATE_LIMIT_PER_CODE"]


def _referral_code_key():
    return f"code:{request.view_args.get('referral_code', '')[:64]}"


@bp.route("/portal/preferences", methods=["GET", "POST"])
@roles_required("customer")
def preferences():
    customer = _own_customer()
    form = preferences_form(notifications.CUSTOMER_KINDS, notifications.preferences(customer.id))
    if form.validate_on_submit():
        notifications.set_preferences(customer, {kind for kind in notifications.CUSTOMER_KINDS if form[kind].data})
        db.session.commit()
        flash("Your email preferences are saved.", "success")
        return redirect(url_for("portal.preferences"))
    return render_template("portal/preferences.html", form=form)


@bp.route("/r/<referral_code>", methods=["GET", "POST"])
# Sending the form is throttled per client and per code (from any number of clients): a link cannot be used to
# flood the program with made-up leads.
@limiter.limit(_per_client_limit, methods=["POST"])
@limiter.limit(_per_code_limit, methods=["POST"], key_func=_referral_code_key)
def landing(referral_code):
    try:
        referrer = get_customer_by_code(referral_code)
    except NotFound:
        return render_template("portal/landing_unknown.html", code=referral_code), 404
    form = LandingForm()
    form.phone.description = phone_hint()
    offers = [offer for offer in map(referee_offer, programs_in_force()) if offer]
    if form.validate_on_submit():
        try:
            submit_referral(referrer, form.email.data, form.name.data, "link", form.phone.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            show_error(form, exc, "email", {"referee_email": "email", "referee_phone": "phone", "referee_name": "name"})
        else:
            return render_template("portal/landing_thanks.html", referrer=referrer, offers=offers)
    return render_template("portal/landing.html", form=form, referrer=referrer, offers=offers), \
        422 if form.errors else 200
