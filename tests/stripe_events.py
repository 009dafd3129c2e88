"""Stripe events for tests: Stripe's own sample objects (tests/fixtures/stripe), wrapped and signed."""
import copy
import json
import os
import time
import uuid

import stripe

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "stripe")
WEBHOOK_SECRET = "whsec_test_refero"


def fixture(name: str) -> dict:
    with open(os.path.join(FIXTURES, f"{name}.json")) as handle:
        return json.load(handle)


def event(event_type: str, obj: dict, event_id: str | None = None) -> dict:
    envelope = copy.deepcopy(fixture("event"))
    envelope.update({"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "type": event_type,
                     "created": int(time.time()), "data": {"object": obj}})
    return envelope


def charge(payment_intent="pi_test_1", amount=5000, email="frank@example.com", fingerprint="fp_buyer", **extra):
    obj = fixture("charge")
    obj.update({"id": f"ch_{uuid.uuid4().hex[:14]}", "payment_intent": payment_intent, "amount": amount,
                "amount_captured": amount, "captured": True, "status": "succeeded", "created": int(time.time())})
    obj["billing_details"]["email"] = email
    obj["payment_method_details"]["card"]["fingerprint"] = fingerprint
    obj.update(extra)
    return obj


def checkout_session(payment_intent="pi_test_1", amount=5000, email="frank@example.com", **extra):
    obj = fixture("checkout_session")
    obj.update({"payment_intent": payment_intent, "amount_total": amount, "currency": "usd", "status": "complete",
                "payment_status": "paid", "created": int(time.time())})
    obj["customer_details"]["email"] = email
    obj.update(extra)
    return obj


def invoice(payment_intent="pi_test_1", amount=5000, email="frank@example.com"):
    obj = fixture("invoice")
    obj.update({"status": "paid", "amount_paid": amount, "customer_email": email,
                "payments": {"object": "list", "data": [{"object": "invoice_payment", "payment": {
                    "type": "payment_intent", "payment_intent": payment_intent}}]}})
    obj["status_transitions"]["paid_at"] = int(time.time())
    return obj


def refunded_charge(charge_obj: dict, refund_amount: int, refund_id="re_test_1") -> dict:
    obj = copy.deepcopy(charge_obj)
    refund = fixture("refund")
    refund.update({"id": refund_id, "amount": refund_amount, "charge": obj["id"],
                   "payment_intent": obj["payment_intent"], "status": "succeeded"})
    obj.update({"refunded": refund_amount >= obj["amount"], "amount_refunded": refund_amount})
    obj["refunds"] = {"object": "list", "data": [refund], "has_more": False}
    return obj


def signed(evt: dict, secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict]:
    payload = json.dumps(evt)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret)
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


def deliver(client, evt: dict, secret: str = WEBHOOK_SECRET):
    payload, headers = signed(evt, secret)
    return client.post("/webhooks/stripe", data=payload, headers=headers)
