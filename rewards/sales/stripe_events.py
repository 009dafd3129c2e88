"""Stripe events to sales and refunds: each event once; one payment seen through several events is one sale.

The webhook request stores a verified event (`accept_event`) and queues it; a worker processes the stored
event (`process_stored_event`) in one transaction with its effects, so it takes effect exactly once.
"""
import logging
from datetime import datetime, timedelta, timezone

from celery.result import EagerResult
from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite

from rewards import audit
from rewards.clock import utcnow
from rewards.contacts import normalize_email, normalize_phone
from rewards.errors import DomainError, InvalidInput
from rewards.extensions import db
from rewards.ops.logs import current_request_id
from rewards.ops.metrics import WEBHOOK_EVENTS
from rewards.sales.models import Sale, StripeEvent
from rewards.sales.rows import clean_sale, content_hash
from rewards.sales.service import insert_sale, land_sale, record_refund, refunded_total
from rewards.sales.validation import weigh_sale


log = logging.getLogger(__name__)


def accept_event(event: dict) -> str:
    """Store a verified event once, commit, and queue it for a worker.

    "ignored" (a type nobody handles), "replay" (already processed), "queued", or "stored" (the queue did
    not answer: `requeue_waiting_events` hands it to a worker later). Without Redis the event is processed
    inline and the answer is what processing made of it ("processed" or "replay").
    """
    if event["type"] not in HANDLERS and event["type"] not in EVENT_HANDLERS:
        WEBHOOK_EVENTS.labels("ignored").inc()
        return "ignored"
    new = _store(event)
    db.session.commit()
    if not new and db.session.scalar(select(StripeEvent.processed_at).filter_by(id=event["id"])) is not None:
        WEBHOOK_EVENTS.labels("replay").inc()
        return "replay"
    # New, or stored by an earlier delivery and not processed yet (Stripe retried): queue it (again).
    WEBHOOK_EVENTS.labels("stored").inc()
    log.info("stripe event stored", extra={"event_id": event["id"], "event_type": event["type"], "new": new})
    return queue_processing(event["id"])


def _store(event: dict) -> bool:
    """INSERT the event unless its id is stored (one statement, safe against a concurrent twin): new or not."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(StripeEvent)
                 .values(id=event["id"], type=event["type"], payload=event, request_id=current_request_id(),
                         received_at=utcnow())
                 .on_conflict_do_nothing(index_elements=["id"]).returning(StripeEvent.id))
    return db.session.execute(statement).scalar() is not None


def queue_processing(event_id: str) -> str:
    from kombu.exceptions import OperationalError as BrokerError

    from rewards.sales.tasks import process_stripe_event

    try:
        result = process_stripe_event.apply_async((event_id,))
    except BrokerError:
        log.warning("stripe event stored, queue unavailable: it is queued later", extra={"event_id": event_id})
        return "stored"
    # Run inline (no Redis), the task's outcome is in hand already; .get() would refuse inside another task.
    return result.result if isinstance(result, EagerResult) else "queued"


def process_stored_event(event_id: str) -> str:
    """Apply a stored event's effects and mark it processed, in the caller's transaction (not committed).

    The row is locked first: a second worker handed the same event waits, then finds it processed.
    "processed", "replay" or "missing".
    """
    stored = db.session.scalar(select(StripeEvent).filter_by(id=event_id).with_for_update())
    if stored is None:
        return "missing"
    if stored.processed_at is not None:
        return "replay"
    event = stored.payload or {}
    event_handler, handler = EVENT_HANDLERS.get(stored.type), HANDLERS.get(stored.type)
    if event_handler is not None:
        event_handler(event)
    elif handler is not None:
        handler((event.get("data") or {}).get("object") or {})
    stored.processed_at = utcnow()
    # (a type stored by an older release that handled it: nothing to do now)
    return "processed" if event_handler or handler else "ignored"


def reject_stored_event(event_id: str, reason: DomainError) -> str:
    """A stored event its handler refused (bad data, not a passing fault): marked processed, the refusal audited."""
    stored = db.session.scalar(select(StripeEvent).filter_by(id=event_id).with_for_update())
    if stored is None or stored.processed_at is not None:
        return "replay"
    stored.processed_at = utcnow()
    # (audit entity ids are numbers: the event's id goes in the detail)
    audit.record("stripe.event_rejected", None, entity_type="stripe_events",
                 detail={"event_id": event_id, "type": stored.type,
                         "errors": reason.errors or {"_schema": [reason.message]}})
    log.warning("stripe event rejected by its handler", extra={"event_id": event_id, "reason": reason.message})
    return "rejected"


def waiting_events(older_than: timedelta, limit: int = 1000) -> list[str]:
    """Ids of stored events no worker has processed for `older_than`: their task was lost or failed."""
    return list(db.session.scalars(select(StripeEvent.id).where(
        StripeEvent.processed_at.is_(None), StripeEvent.received_at < utcnow() - older_than)
        .order_by(StripeEvent.received_at).limit(limit)))


def register_event_handler(event_type: str, handler) -> None:
    """Another package handles `event_type`: its handler receives the whole event (`account`, `created`, `data`)."""
    EVENT_HANDLERS[event_type] = handler


def _when(timestamp) -> datetime:
    return datetime.fromtimestamp(int(timestamp or 0), timezone.utc)


def _email(value) -> str:
    try:
        return normalize_email(value) if value else ""
    except InvalidInput:
        return ""


def _phone(value) -> str | None:
    try:
        return normalize_phone(value)
    except InvalidInput:
        return None


def _record(fields: dict) -> None:
    """Store the payment once, keyed by PaymentIntent (or the object's id), cleaned and hashed as the API's sales
    are (clean_sale) and landed the same way; a later event fills in what was missing."""
    intent = fields.pop("payment_intent")
    fields["external_id"] = intent or fields.pop("object_id")
    fields.pop("object_id", None)
    try:
        row = clean_sale(fields, email_required=False)
    except InvalidInput:
        return  # nothing that counts as a sale (no currency, say): ignored, as an unhandled event is

    def stored():
        return db.session.scalar(select(Sale).where(or_(Sale.external_id == row["external_id"],
                                                        Sale.stripe_payment_intent == (intent or row["external_id"]))))

    sale = stored()
    if sale is None:
        sale_id, landing = insert_sale({**row, "stripe_payment_intent": intent, "source": "stripe"})
        if sale_id is not None:
            land_sale(sale_id, landing, row)
            return
        sale = stored()  # a concurrent event of the same payment committed it first
    learned = False
    for name in ("email", "phone", "referral_code", "payment_fingerprint"):
        if row.get(name) and not getattr(sale, name):
            setattr(sale, name, row[name])
            learned = True
    if learned:
        sale.content_hash = content_hash(sale)
        if sale.referral_id is None:
            # The first event lacked the buyer's details (a charge without email, say): weigh again now.
            weigh_sale(sale)


def _referral_code(obj: dict) -> str | None:
    code = (obj.get("metadata") or {}).get("referral_code") or obj.get("client_reference_id")
    return code[:32] if isinstance(code, str) and code else None


def checkout_session_completed(session: dict) -> None:
    if session.get("payment_status") != "paid" or not session.get("amount_total"):
        return
    details = session.get("customer_details") or {}
    _record({"payment_intent": session.get("payment_intent"), "object_id": session.get("invoice") or session["id"],
             "email": _email(details.get("email") or session.get("customer_email")),
             "phone": _phone(details.get("phone")), "amount": int(session["amount_total"]),
             "currency": (session.get("currency") or "").lower(), "occurred_at": _when(session.get("created")),
             "referral_code": _referral_code(session), "payment_fingerprint": None})


def _invoice_payment_intent(invoice: dict) -> str | None:
    """Older API versions name it on the invoice; newer ones list the invoice's payments."""
    if isinstance(invoice.get("payment_intent"), str):
        return invoice["payment_intent"]
    for payment in ((invoice.get("payments") or {}).get("data") or []):
        intent = (payment.get("payment") or {}).get("payment_intent")
        if isinstance(intent, str):
            return intent
    return None


def invoice_paid(invoice: dict) -> None:
    if not invoice.get("amount_paid"):
        return
    paid_at = (invoice.get("status_transitions") or {}).get("paid_at") or invoice.get("created")
    _record({"payment_intent": _invoice_payment_intent(invoice), "object_id": invoice["id"],
             "email": _email(invoice.get("customer_email")), "phone": _phone(invoice.get("customer_phone")),
             "amount": int(invoice["amount_paid"]), "currency": (invoice.get("currency") or "").lower(),
             "occurred_at": _when(paid_at), "referral_code": _referral_code(invoice), "payment_fingerprint": None})


def _card_fingerprint(charge: dict) -> str | None:
    details = charge.get("payment_method_details") or {}
    return ((details.get(details.get("type") or "card") or {}).get("fingerprint")) or None


def charge_succeeded(charge: dict) -> None:
    if charge.get("status") != "succeeded" or not charge.get("amount"):
        return
    billing = charge.get("billing_details") or {}
    _record({"payment_intent": charge.get("payment_intent"), "object_id": charge["id"],
             "email": _email(billing.get("email") or charge.get("receipt_email")),
             "phone": _phone(billing.get("phone")), "amount": int(charge["amount"]),
             "currency": (charge.get("currency") or "").lower(), "occurred_at": _when(charge.get("created")),
             "referral_code": _referral_code(charge), "payment_fingerprint": _card_fingerprint(charge)})


def charge_refunded(charge: dict) -> None:
    """Each listed refund once by its id; a refunded amount beyond them (refunds not expanded) as one more."""
    sale_ref = charge.get("payment_intent") or charge["id"]
    for refund in ((charge.get("refunds") or {}).get("data") or []):
        if refund.get("status") in ("succeeded", "pending") and refund.get("amount"):
            record_refund(sale_ref, refund["id"], int(refund["amount"]), "stripe", strict=False)
    missing = int(charge.get("amount_refunded") or 0) - refunded_total(sale_ref)
    if missing > 0:
        record_refund(sale_ref, f"{charge['id']}:refunded:{charge['amount_refunded']}", missing, "stripe",
                      strict=False)


# Handlers of whole events, registered by other packages (payouts: account.updated, transfer.reversed).
EVENT_HANDLERS: dict = {}
# Event types this package handles; others answer 200 and are ignored (the payouts package adds its own).
HANDLERS = {
    "checkout.session.completed": checkout_session_completed,
    "invoice.paid": invoice_paid,
    "charge.succeeded": charge_succeeded,
    "charge.refunded": charge_refunded,
}
