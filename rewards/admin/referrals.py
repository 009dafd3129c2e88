"""Staff pages for referrals: the pipeline of all referrals and one referral's detail with notes and history."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from rewards.accounts.auth import roles_required
from rewards.admin import pipeline, service, words
from rewards.admin.paging import COUNT_CAP, capped_page, page_arg, url_args
from rewards.admin.search import SEARCH_COUNT_CAP
from rewards.admin.views import date_arg
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.referrals.models import SOURCES, STATUSES
from rewards.referrals.service import get_referral
from rewards.programs.service import program_in_force
from rewards.sales.models import Sale
from rewards.referrals.review import latest_decision
from rewards.tasks.models import Task

bp = Blueprint("admin_referrals", __name__, url_prefix="/admin/referrals")
PAGE_SIZE = 50


@bp.route("", endpoint="pipeline")
@roles_required("coordinator", "finance")
def pipeline_page():
    filters = pipeline.Filters.from_args(request.args, date_arg)
    for problem in filters.problems:
        flash(problem, "warning")
    cap = SEARCH_COUNT_CAP if filters.q else COUNT_CAP
    page = capped_page(pipeline.pipeline_query(filters), page_arg(), PAGE_SIZE, cap=cap, scalars=False)
    return render_template("admin/pipeline.html", page=page, filters=filters, statuses=STATUSES, sources=SOURCES,
                           sorts={key: label for key, (label, _) in pipeline.SORTS.items()}, url_args=url_args,
                           source_words=words.SOURCE_WORDS)


@bp.route("/<int:referral_id>")
@roles_required("coordinator", "finance")
def detail(referral_id):
    referral = get_referral(referral_id)
    tasks = db.session.scalars(db.select(Task).where(Task.referral_id == referral.id).order_by(Task.id)).all()
    sales, reward = pipeline.sales_of(referral.id), pipeline.reward_of(referral.id)
    decision = latest_decision(referral.id)
    if decision and decision.sale_id and all(s.id != decision.sale_id for s in sales):
        sales = [*sales, db.session.get(Sale, decision.sale_id)]  # a rejected sale stays unattributed
    program = program_in_force(sales[0].currency if sales else "usd", referral.created_at)
    history = pipeline.referral_history(referral.id, reward.id if reward else None)
    return render_template("admin/referral.html", referral=referral, notes=service.notes_of(referral.id),
                           sales=sales, reward=reward, tasks=tasks,
                           decision=words.decision_view(referral, decision, sales,
                                                        program.attribution_days if program else None),
                           history=words.history_entries(history, sales, reward), sources=words.SOURCE_WORDS)


@bp.route("/<int:referral_id>/notes", methods=["POST"])
@roles_required("coordinator")
def add_note(referral_id):
    referral = get_referral(referral_id)
    try:
        service.add_note(referral, request.form.get("body"), current_user)
        db.session.commit()
        flash("Note added.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    return redirect(url_for("admin_referrals.detail", referral_id=referral.id) + "#notes")
