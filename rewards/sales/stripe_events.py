"""Stripe events to sales and refunds: each event once; one payment seen through several events is one sale."""
from datetime import datetime, timezone

from sqlalchemy import or_, select

from rewards.contacts import normalize_email, normalize_phone
from rewards.errors import InvalidInput
from rewards.extensions import db
from rewards.sales.models import Sale, StripeEvent
from rewards.sales.rows import clean_sale, content_hash
from rewards.sales.service import insert_once, insert_sale, land_sale, record_refund, refunded_total
from rewards.sales.validation import weigh_sale


def process_event(event: dict) -> str:
    """Handle a verified event (not committed): "processed", "replay" (seen before) or "ignored"."""
    event_handler = EVENT_HANDLERS.get(event.get("type"))
    handler = HANDLERS.get(event.get("type"))
    if handler is None and event_handler is None:
        return "ignored"
    if not insert_once(StripeEvent(id=event["id"], type=event["type"])):
        return "replay"
    if event_handler is not None:
        event_handler(event)
    else:
        handler((event.get("data") or {}).get("object") or {})
    return "processed"


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
        sale = insert_sale({**row, "stripe_payment_intent": intent, "source": "stripe"})
        if sale is not None:
            land_sale(sale)
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
