"""Staff pages for referrals: recording one on a customer's behalf (source `admin`), and the review queue."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from rewards.accounts.auth import roles_required
from rewards.contacts import normalize_email
from rewards.customers.service import find_customer_by_email, get_customer_by_code
from rewards.bounds import page_arg
from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.forms import show_error
from rewards.referrals import review
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


# The coordinator's review queue: referrals a fraud check flagged, with their checks; approve or reject.
class ApproveForm(FlaskForm):
    submit = SubmitField("Approve")


class RejectForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField("Reject")


class BulkForm(FlaskForm):
    """Several referrals at once: `referral_ids` (checkboxes), `action` approve|reject, `reason` for a rejection."""

    reason = StringField("Reason", validators=[Length(max=2000)])


@bp.route("/admin/review")
@roles_required("coordinator")
def review_queue():
    page = db.paginate(review.review_queue_query(), page=page_arg(), per_page=25,
                       error_out=False)
    decisions = review.latest_decisions([r.id for r in page.items])
    return render_template("admin/review.html", page=page, decisions=decisions, approve_form=ApproveForm(),
                           reject_form=RejectForm(), bulk_form=BulkForm(),
                           cases=review.review_cases(page.items, decisions))


@bp.post("/admin/review/<int:referral_id>/approve")
@roles_required("coordinator")
def approve(referral_id):
    if not ApproveForm().validate_on_submit():
        flash("The form expired; try again.", "warning")
        return redirect(url_for("referrals.review_queue"))
    try:
        review.approve_referral(referral_id, current_user)
        db.session.commit()
        flash(f"Referral #{referral_id} approved: it qualifies.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    return redirect(url_for("referrals.review_queue"))


@bp.post("/admin/review/<int:referral_id>/reject")
@roles_required("coordinator")
def reject(referral_id):
    form = RejectForm()
    if not form.validate_on_submit():
        flash("Give the reason for rejecting.", "warning")
        return redirect(url_for("referrals.review_queue"))
    try:
        review.reject_referral(referral_id, current_user, form.reason.data)
        db.session.commit()
        flash(f"Referral #{referral_id} rejected.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    return redirect(url_for("referrals.review_queue"))


@bp.post("/admin/review/bulk")
@roles_required("coordinator")
def bulk():
    """Approve or reject the ticked referrals together; each decision stands or fails on its own."""
    form = BulkForm()
    ids = sorted({int(value) for value in request.form.getlist("referral_ids") if value.isdigit()})
    action = request.form.get("action")
    if not form.validate_on_submit() or action not in ("approve", "reject"):
        flash("The form expired; try again.", "warning")
    elif not ids:
        flash("Tick the referrals to decide first.", "warning")
    elif action == "reject" and not (form.reason.data or "").strip():
        flash("Give the reason for rejecting the ticked referrals.", "warning")
    else:
        done, refused = review.decide_many(ids, action, current_user, form.reason.data)
        db.session.commit()
        verb = "approved" if action == "approve" else "rejected"
        if done:
            flash(f"{len(done)} referral{'s' if len(done) != 1 else ''} {verb}: "
                  + ", ".join(f"#{i}" for i in done) + ".", "success")
        for referral_id, message in refused:
            flash(f"Referral #{referral_id} was not {verb}: {message}", "danger")
    return redirect(url_for("referrals.review_queue"))
