"""POST /webhooks/stripe: Stripe's events, verified against the raw body with the signing secret."""
import json
import time

import stripe
from flask import Blueprint, current_app, jsonify, request

from rewards import audit
from rewards.errors import InvalidInput, error_body
from rewards.extensions import db
from rewards.sales.event_shapes import shape_errors
from rewards.sales.stripe_events import process_event

bp = Blueprint("webhooks", __name__)

# Seconds a signature's time may differ from ours, either way (Stripe's library checks only the past).
TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE
BAD_SIGNATURE = "Invalid Stripe webhook signature or payload."


def _bad_request(message: str, errors: dict | None = None):
    return jsonify(error_body(400, "Bad Request", message, errors)), 400


def _signed_at(header: str) -> int | None:
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            return int(value)
    return None


def _reject(event: dict, errors: dict):
    """A signed event without the shape its handler needs: recorded as rejected, answered 400."""
    db.session.rollback()
    audit.record("stripe.event_rejected", None, {"event_id": str(event.get("id"))[:255],
                                                 "type": str(event.get("type"))[:100], "errors": errors},
                 entity_type="stripe_events")
    db.session.commit()
    current_app.logger.warning("Stripe event %s rejected: %s", str(event.get("id"))[:255], errors)
    return _bad_request("The Stripe event does not have the expected shape.", errors)


@bp.post("/webhooks/stripe")
def stripe_webhook():
    """Verify, then process each event once; the caller learns nothing about why a signature failed."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return jsonify(error_body(503, "Service Unavailable", "Stripe webhooks are not configured.")), 503
    payload = request.get_data()
    header = request.headers.get("Stripe-Signature")
    try:
        stripe.Webhook.construct_event(payload, header, secret, tolerance=TOLERANCE)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError):
        return _bad_request(BAD_SIGNATURE)
    signed_at = _signed_at(header)
    if signed_at is None or abs(time.time() - signed_at) > TOLERANCE:
        return _bad_request(BAD_SIGNATURE)
    errors = shape_errors(event)
    if errors:
        if not isinstance(event, dict) or "_schema" in errors:
            return _bad_request(BAD_SIGNATURE)
        return _reject(event, errors)
    try:
        result = process_event(event)
    except InvalidInput as exc:
        return _reject(event, {exc.field or "_schema": [exc.message]})
    db.session.commit()
    return jsonify({"received": True, "result": result})
