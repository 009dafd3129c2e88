"""The coordinator's review queue: referrals a fraud check flagged, with their checks; approve or reject."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from rewards.accounts.auth import roles_required
from rewards.bounds import page_arg
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.sales import review

bp = Blueprint("review", __name__)


class ApproveForm(FlaskForm):
    submit = SubmitField("Approve")


class RejectForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField("Reject")


@bp.route("/admin/review")
@roles_required("coordinator")
def queue():
    page = db.paginate(review.review_queue_query(), page=page_arg(), per_page=25,
                       error_out=False)
    decisions = review.latest_decisions([r.id for r in page.items])
    return render_template("admin/review.html", page=page, decisions=decisions, approve_form=ApproveForm(),
                           reject_form=RejectForm())


@bp.post("/admin/review/<int:referral_id>/approve")
@roles_required("coordinator")
def approve(referral_id):
    if not ApproveForm().validate_on_submit():
        flash("The form expired; try again.", "warning")
        return redirect(url_for("review.queue"))
    try:
        review.approve_referral(referral_id, current_user)
        db.session.commit()
        flash(f"Referral #{referral_id} approved: it qualifies.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    return redirect(url_for("review.queue"))


@bp.post("/admin/review/<int:referral_id>/reject")
@roles_required("coordinator")
def reject(referral_id):
    form = RejectForm()
    if not form.validate_on_submit():
        flash("Give the reason for rejecting.", "warning")
        return redirect(url_for("review.queue"))
    try:
        review.reject_referral(referral_id, current_user, form.reason.data)
        db.session.commit()
        flash(f"Referral #{referral_id} rejected.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    return redirect(url_for("review.queue"))
