"""The task board pages: columns To do / Doing / Done, card forms, moves (drag and drop or a form), settings."""
from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import Schema, ValidationError, fields, validate

from rewards.accounts.auth import roles_required
from rewards.bounds import id_arg
from rewards.errors import DomainError, InvalidInput
from rewards.schemas import query_id
from rewards.extensions import db
from rewards.tasks import automatic, service
from rewards.tasks.forms import MoveForm, TaskForm
from rewards.tasks.models import STATUS_LABELS, TASK_STATUSES
from rewards.tasks.schemas import TaskSchema

bp = Blueprint("tasks", __name__, url_prefix="/admin/tasks")


class MoveSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(TASK_STATUSES))
    after_id = query_id(allow_none=True, load_default=None)


@bp.route("")
@roles_required("coordinator")
def board():
    assignee_id = id_arg("assignee")
    return render_template("tasks/board.html", columns=service.board(assignee_id), labels=STATUS_LABELS,
                           staff=service.staff_users(), assignee_id=assignee_id, today=service.today(),
                           move_form=MoveForm())


@bp.route("/new", methods=["GET", "POST"])
@roles_required("coordinator")
def new():
    form = TaskForm()
    form.set_assignees(service.staff_users())
    if request.method == "GET":
        open_task = automatic.open_automatic_task(id_arg("referral_id") or -1)
        if open_task is not None:
            flash(f"This referral already has an open task, “{open_task.title}”: here it is.", "info")
            return redirect(url_for("tasks.edit", task_id=open_task.id))
        form.referral_id.data = id_arg("referral_id")
        form.customer_id.data = id_arg("customer_id")
        form.title.data = request.args.get("title", "")[:200] or None
    if form.validate_on_submit() and _saved(form, lambda: service.create_task(
            {**form.fields_for_service(), "status": form.status.data}, current_user)):
        flash(f"Task “{form.title.data}” added to {STATUS_LABELS[form.status.data]}.", "success")
        return redirect(url_for("tasks.board"))
    return render_template("tasks/form.html", form=form, task=None), 422 if form.errors else 200


@bp.route("/<int:task_id>/edit", methods=["GET", "POST"])
@roles_required("coordinator")
def edit(task_id):
    task = service.get_task(task_id, for_change=request.method == "POST")
    form = TaskForm(obj=task)
    form.set_assignees(service.staff_users())
    if form.validate_on_submit() and _saved(form, lambda: service.update_task(
            task, {**form.fields_for_service(), "status": form.status.data})):
        flash(f"Task “{task.title}” saved.", "success")
        return redirect(url_for("tasks.board"))
    return render_template("tasks/form.html", form=form, task=task), 422 if form.errors else 200


def _saved(form, action) -> bool:
    """Run the service call and commit; a refused field shows on the form instead."""
    try:
        action()
        db.session.commit()
        return True
    except DomainError as exc:
        db.session.rollback()
        getattr(form, exc.field or "title", form.title).errors.append(exc.message)
        return False


@bp.route("/<int:task_id>/move", methods=["POST"])
@roles_required("coordinator")
def move(task_id):
    """Drag and drop posts JSON {status, after_id}; the fallback form posts `status` and comes back to the board."""
    task = service.get_task(task_id, for_change=True)
    if request.is_json:
        try:
            args = MoveSchema().load(request.get_json(silent=True) or {})
        except ValidationError as exc:
            return jsonify(code=422, status="Unprocessable Entity", message="Invalid move.", errors=exc.messages), 422
        # Dropped with no card above it: the top of the column.
        if args["after_id"] is None:
            service.move_task(task, args["status"], position=0)
        else:
            service.move_task(task, args["status"], after_id=args["after_id"])
        return jsonify(TaskSchema().dump(service.commit_and_keep(task)))
    form = MoveForm()
    if not form.validate_on_submit():
        raise InvalidInput("Pick a column to move the card to.", "status")
    service.move_task(task, form.status.data)
    db.session.commit()
    flash(f"Task “{task.title}” moved to {STATUS_LABELS[task.status]}.", "success")
    return redirect(request.referrer if _same_site(request.referrer) else url_for("tasks.board"))


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url + "admin/tasks")


@bp.route("/<int:task_id>/delete", methods=["POST"])
@roles_required("coordinator")
def delete(task_id):
    task = service.get_task(task_id, for_change=True)
    title = task.title
    service.delete_task(task)
    db.session.commit()
    flash(f"Task “{title}” deleted.", "success")
    return redirect(url_for("tasks.board"))


@bp.route("/settings", methods=["GET", "POST"])
@roles_required("coordinator")
def settings():
    """Switch each kind of automatic task on or off."""
    if request.method == "POST":
        changed = [entry.label for entry in automatic.KINDS.values()
                   if automatic.set_enabled(entry.name, request.form.get(entry.name) == "on", current_user)]
        db.session.commit()
        flash("Settings saved." if changed else "Nothing changed.", "success" if changed else "info")
        return redirect(url_for("tasks.settings"))
    return render_template("tasks/settings.html", kinds=automatic.settings())
