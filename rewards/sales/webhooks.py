"""POST /webhooks/stripe: Stripe's events, verified against the raw body with the signing secret."""
import json

import stripe
from flask import Blueprint, current_app, jsonify, request

from rewards.errors import error_body
from rewards.extensions import db
from rewards.sales.stripe_events import process_event

bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks/stripe")
def stripe_webhook():
    """Verify, then process each event once; the caller learns nothing about why a signature failed."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return jsonify(error_body(503, "Service Unavailable", "Stripe webhooks are not configured.")), 503
    payload = request.get_data()
    try:
        stripe.Webhook.construct_event(payload, request.headers.get("Stripe-Signature"), secret)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError):
        return jsonify(error_body(400, "Bad Request", "Invalid Stripe webhook signature or payload.")), 400
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        return jsonify(error_body(400, "Bad Request", "Invalid Stripe webhook signature or payload.")), 400
    result = process_event(event)
    db.session.commit()
    return jsonify({"received": True, "result": result})
