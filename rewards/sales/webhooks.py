"""POST /webhooks/stripe: Stripe's events, verified against the raw body with the signing secret."""
import json

import stripe
from flask import Blueprint, current_app, jsonify, request

from rewards.errors import error_body
from rewards.extensions import db
from rewards.sales.stripe_events import process_event

bp = Blueprint("webhooks", __name__)


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


@bp.post("/webhooks/stripe")
def stripe_webhook():
    """Verify, then process each event once; the caller learns nothing about why a signature failed."""
    secrets = webhook_secrets()
    if not secrets:
        return jsonify(error_body(503, "Service Unavailable", "Stripe webhooks are not configured.")), 503
    payload = request.get_data()
    event = verified_event(payload, request.headers.get("Stripe-Signature"), secrets)
    if event is None:
        return jsonify(error_body(400, "Bad Request", "Invalid Stripe webhook signature or payload.")), 400
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        return jsonify(error_body(400, "Bad Request", "Invalid Stripe webhook signature or payload.")), 400
    result = process_event(event)
    db.session.commit()
    return jsonify({"received": True, "result": result})
