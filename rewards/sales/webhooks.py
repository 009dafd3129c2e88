"""POST /webhooks/stripe: Stripe's events, verified against the raw body with the signing secret, stored and
queued in the request (a worker processes them)."""
import json
import logging
import time

import stripe
from flask import Blueprint, current_app, jsonify, request

from rewards import audit
from rewards.errors import error_body
from rewards.extensions import db
from rewards.ops.metrics import WEBHOOK_EVENTS
from rewards.sales.event_shapes import shape_errors
from rewards.sales.stripe_events import accept_event

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


def webhook_secrets() -> list[str]:
    """The platform endpoint's secret and the Connect endpoint's (connected accounts' events): either may sign."""
    return [secret for secret in (current_app.config.get("STRIPE_WEBHOOK_SECRET"),
                                  current_app.config.get("STRIPE_CONNECT_WEBHOOK_SECRET")) if secret]


def verified_event(payload: bytes, signature: str | None, secrets: list[str]):
    """The parsed event if one of the secrets signed it, else None."""
    for secret in secrets:
        try:
            stripe.Webhook.construct_event(payload, signature, secret)
            return json.loads(payload)
        except stripe.SignatureVerificationError:
            continue
        except ValueError:
            return None
    return None

# Seconds a signature's time may differ from ours, either way (Stripe's own default for the past).
TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE
BAD_SIGNATURE = "Invalid Stripe webhook signature or payload."


def _bad_request(message: str, errors: dict | None = None):
    return jsonify(error_body(400, "Bad Request", message, errors)), 400


def _signed_recently(header: str | None) -> bool:
    """The signature header's time (`t=`) is within TOLERANCE seconds of now, before or after."""
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            return abs(time.time() - int(value)) <= TOLERANCE
    return False


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
    """Verify, then store and queue each event once; the caller learns nothing about why a signature failed."""
    secrets = webhook_secrets()
    if not secrets:
        return jsonify(error_body(503, "Service Unavailable", "Stripe webhooks are not configured.")), 503
    payload = request.get_data()
    event = verified_event(payload, request.headers.get("Stripe-Signature"), secrets)
    if event is None:
        WEBHOOK_EVENTS.labels("rejected").inc()
        log.warning("stripe webhook refused: bad signature or payload")
        return jsonify(error_body(400, "Bad Request", "Invalid Stripe webhook signature or payload.")), 400
    # Stripe's library refuses a signature too old, not one from the future: its time must be near ours either way.
    if not _signed_recently(request.headers.get("Stripe-Signature")):
        WEBHOOK_EVENTS.labels("rejected").inc()
        return _bad_request(BAD_SIGNATURE)
    errors = shape_errors(event)
    if errors:
        WEBHOOK_EVENTS.labels("rejected").inc()
        if not isinstance(event, dict) or "_schema" in errors:
            return _bad_request(BAD_SIGNATURE)
        return _reject(event, errors)
    result = accept_event(event)
    return jsonify({"received": True, "result": result})
