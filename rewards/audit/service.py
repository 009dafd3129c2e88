"""Recording audit events for every state change."""
from flask import g, has_request_context, request
from flask_login import current_user

from rewards.audit.models import AuditEvent
from rewards.bulk import insert_rows
from rewards.clock import utcnow
from rewards.extensions import db


def current_actor():
    """(user_id, api_key_id) of whoever drives this request; (None, None) for the CLI, webhooks and jobs."""
    if not has_request_context():
        return None, None
    api_key = g.get("api_key")
    if api_key is not None:
        return api_key.user_id, api_key.id
    if current_user and current_user.is_authenticated:
        return current_user.id, None
    return None, None


def event_row(action: str, entity_type: str, entity_id: int | None, detail: dict) -> dict:
    """The audit_events row of one event, as record() would add it now: this request's actor and address."""
    user_id, api_key_id = current_actor()
    return {"action": action, "entity_type": entity_type, "entity_id": entity_id, "detail": detail,
            "actor_user_id": user_id, "actor_api_key_id": api_key_id,
            "ip": request.remote_addr if has_request_context() else None, "created_at": utcnow()}


def record_many(events: list[tuple[str, str, int, dict]]) -> None:
    """Audit events for many rows at once, as record() would add each: [(action, entity_type, entity_id, detail)].

    Written in bulk (COPY on PostgreSQL) with the same actor, address and time, inside the caller's transaction.
    """
    if not events:
        return
    template = event_row("", "", None, {})
    insert_rows(AuditEvent.__table__, [
        {**template, "action": action, "entity_type": entity_type, "entity_id": entity_id, "detail": detail}
        for action, entity_type, entity_id, detail in events])


def record(action: str, entity, detail: dict | None = None, *, entity_type: str | None = None) -> AuditEvent:
    """Add an audit event to the session; the caller's transaction commits it with the change itself."""
    user_id, api_key_id = current_actor()
    event = AuditEvent(
        action=action,
        entity_type=entity_type or entity.__tablename__,
        entity_id=getattr(entity, "id", None),
        detail=detail or {},
        actor_user_id=user_id,
        actor_api_key_id=api_key_id,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event
