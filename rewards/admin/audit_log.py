"""The audit log page: every audit event, newest first, filterable by actor, action, entity and date."""
from datetime import timedelta

from flask import Blueprint, render_template, request
from sqlalchemy import select

from rewards.accounts.auth import roles_required
from rewards.accounts.models import User
from rewards.admin.paging import capped_page, page_arg, url_args
from rewards.admin.stats import midnight
from rewards.admin.views import date_arg
from rewards.audit.models import AuditEvent
from rewards.bounds import id_arg, is_digits
from rewards.extensions import db

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/audit")
PAGE_SIZE = 50


def _actor_id(term: str) -> int:
    """A user number or email; -1 (nobody) when it names no user."""
    if is_digits(term):
        return int(term)
    return db.session.scalar(select(User.id).where(User.email == term.lower())) or -1


def audit_query(args, first, last):
    query = (select(AuditEvent, User.email).outerjoin(User, User.id == AuditEvent.actor_user_id)
             .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()))
    actor = (args.get("actor") or "").strip()
    if actor:
        query = query.where(AuditEvent.actor_user_id == _actor_id(actor))
    action = (args.get("action") or "").strip()
    if action:
        # "referral." finds every referral action; a whole name finds that one.
        query = query.where(AuditEvent.action.startswith(action, autoescape=True) if action.endswith(".")
                            else AuditEvent.action == action)
    entity = (args.get("entity") or "").strip()
    if entity:
        query = query.where(AuditEvent.entity_type == entity)
    entity_id = id_arg("entity_id")
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == entity_id)
    if first:
        query = query.where(AuditEvent.created_at >= midnight(first))
    if last:
        query = query.where(AuditEvent.created_at < midnight(last + timedelta(days=1)))
    return query


@bp.route("")
@roles_required("coordinator")
def index():
    first, last = date_arg("date_from"), date_arg("date_to")
    page = capped_page(audit_query(request.args, first, last), page_arg(), PAGE_SIZE, scalars=False)
    entities = sorted(table.name for table in db.metadata.sorted_tables)
    return render_template("admin/audit.html", page=page, entities=entities, url_args=url_args,
                           first=first, last=last)
