"""The audit log page: every audit event, newest first, filterable by actor, action, entity and date."""
from datetime import timedelta

from flask import Blueprint, render_template, request
from sqlalchemy import or_, select

from rewards.accounts.auth import roles_required
from rewards.accounts.models import User
from rewards.admin.paging import capped_page, page_arg, url_args
from rewards.admin.stats import midnight
from rewards.admin.views import date_arg
from rewards.admin.words import RECORD_TYPES, detail_words, record_type
from rewards.audit.models import AuditEvent
from rewards.bounds import id_arg, is_digits
from rewards.extensions import db
from rewards.programs.models import Reward

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/audit")
PAGE_SIZE = 50


def _actor_id(term: str) -> int:
    """A user number or email; -1 (nobody) when it names no user."""
    if is_digits(term):
        return int(term)
    return db.session.scalar(select(User.id).where(User.email == term.lower())) or -1


def action_matches(term: str):
    """"task.moved" is that action; "task." or "task" every task action; "approved" every *.approved action."""
    if term.endswith("."):
        return AuditEvent.action.startswith(term, autoescape=True)
    if "." in term:
        return AuditEvent.action == term
    return or_(AuditEvent.action == term, AuditEvent.action.startswith(term + ".", autoescape=True),
               AuditEvent.action.endswith("." + term, autoescape=True))


def currencies_of(events) -> dict[tuple[str, int], str]:
    """The currency of each reward an event names without one (e.g. reward.batched), so its amount reads in units."""
    ids = {e.entity_id for e in events if e.entity_type == "rewards" and e.entity_id and "currency" not in (e.detail or {})}
    if not ids:
        return {}
    return {("rewards", rid): currency for rid, currency in
            db.session.execute(select(Reward.id, Reward.currency).where(Reward.id.in_(ids)))}


def audit_query(args, first, last):
    query = (select(AuditEvent, User.email).outerjoin(User, User.id == AuditEvent.actor_user_id)
             .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()))
    actor = (args.get("actor") or "").strip()
    if actor:
        query = query.where(AuditEvent.actor_user_id == _actor_id(actor))
    action = (args.get("action") or "").strip().lower()
    if action:
        query = query.where(action_matches(action))
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
    entities = sorted(((table.name, record_type(table.name)) for table in db.metadata.sorted_tables
                       if table.name in RECORD_TYPES), key=lambda pair: pair[1])
    currencies = currencies_of([event for event, _ in page.items])
    rows = [(event, email, record_type(event.entity_type),
             detail_words(event.detail, currencies.get((event.entity_type, event.entity_id))))
            for event, email in page.items]
    return render_template("admin/audit.html", page=page, rows=rows, entities=entities, url_args=url_args,
                           first=first, last=last)
