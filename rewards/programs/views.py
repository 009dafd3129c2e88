"""The coordinator's program pages: versions by currency, a new version, one version, what-if."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func

from rewards.accounts.auth import roles_required
from rewards.clock import utcnow
from rewards.errors import DomainError, NotFound
from rewards.extensions import db
from rewards.forms import show_error
from rewards.programs import service
from rewards.programs.forms import ProgramForm, WhatIfForm, rules_as_form_data, rules_from_form
from rewards.programs.models import Program, Reward
from rewards.programs.whatif import changed_referrals, what_if

bp = Blueprint("programs", __name__, url_prefix="/admin/programs")


@bp.route("")
@roles_required("coordinator")
def index():
    programs = db.session.scalars(service.programs_query()).all()
    currencies = sorted({p.currency for p in programs})
    now = utcnow()
    in_force = {c: getattr(service.program_in_force(c, now), "id", None) for c in currencies}
    return render_template("admin/programs.html", programs=programs, currencies=currencies, in_force=in_force,
                           now=now)


@bp.route("/new", methods=["GET", "POST"])
@roles_required("coordinator")
def new():
    current = _version_in_force(request.args.get("currency")) if request.method == "GET" else None
    form = ProgramForm(data=rules_as_form_data(current) if current else None)
    if form.validate_on_submit():
        try:
            program = service.create_program(rules_from_form(form), current_user)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            show_error(form, exc, "currency")
        else:
            flash(f"Version {program.version} of the {program.currency.upper()} program is saved.", "success")
            return redirect(url_for("programs.detail", program_id=program.id))
    return render_template("admin/programs_new.html", form=form, current=current), 422 if form.errors else 200


def _version_in_force(currency: str | None):
    """The version a new one starts from: the named currency's, or the only currency's when there is one."""
    now = utcnow()
    currencies = [currency.strip().lower()] if currency else sorted(set(db.session.scalars(
        db.select(Program.currency).distinct())))
    return service.program_in_force(currencies[0], now) if len(currencies) == 1 else None


@bp.route("/<int:program_id>")
@roles_required("coordinator")
def detail(program_id):
    try:
        program = service.get_program(program_id)
    except NotFound:
        abort(404)
    count, total = db.session.execute(
        db.select(func.count(Reward.id), func.coalesce(func.sum(Reward.value), 0))
        .where(Reward.program_id == program.id)).one()
    versions = db.session.scalars(db.select(Program).where(Program.currency == program.currency)
                                  .order_by(Program.version.desc())).all()
    return render_template("admin/programs_detail.html", program=program, versions=versions,
                           reward_count=count, reward_total=total)


@bp.route("/what-if")
@roles_required("coordinator")
def whatif():
    form = WhatIfForm(formdata=request.args or None)
    result = None
    if request.args and form.validate():
        try:
            rules = rules_from_form(form)
            service.validate_rules({**rules, "hold_days": 0})
            candidate = service.build_program(rules)
            result = what_if(candidate, rules["from_date"], rules["to_date"])
            result["changes"], result["changed"] = changed_referrals(candidate, rules["from_date"], rules["to_date"])
        except DomainError as exc:
            show_error(form, exc, "currency")
    status = 422 if form.errors else 200
    return render_template("admin/programs_whatif.html", form=form, result=result), status
