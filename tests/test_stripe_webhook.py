"""POST /webhooks/stripe with Stripe's own payload shapes, signed with a test secret."""
import threading
from datetime import timedelta

import pytest

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.programs.models import Reward
from rewards.sales.models import Refund, Sale, StripeEvent
from tests import factories
from tests import stripe_events as se


@pytest.fixture
def app_config():
    return {"STRIPE_WEBHOOK_SECRET": se.WEBHOOK_SECRET}


def sales():
    return db.session.scalars(db.select(Sale)).all()


def test_no_secret_configured_is_503(app, client):
    app.config["STRIPE_WEBHOOK_SECRET"] = None
    r = se.deliver(client, se.event("charge.succeeded", se.charge()))
    assert r.status_code == 503 and r.json["message"] == "Stripe webhooks are not configured."


@pytest.mark.parametrize("tamper", ["wrong-secret", "body", "no-header", "garbage-header", "old"])
def test_bad_signature_is_400_and_changes_nothing(client, tamper):
    evt = se.event("charge.succeeded", se.charge())
    payload, headers = se.signed(evt, "whsec_other" if tamper == "wrong-secret" else se.WEBHOOK_SECRET)
    if tamper == "body":
        payload = payload.replace(b'"amount": 5000', b'"amount": 9000')
    if tamper == "no-header":
        headers.pop("Stripe-Signature")
    if tamper == "garbage-header":
        headers["Stripe-Signature"] = "garbage"
    if tamper == "old":
        import stripe
        headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
            payload.decode(), se.WEBHOOK_SECRET, timestamp=1)
    r = client.post("/webhooks/stripe", data=payload, headers=headers)
    assert r.status_code == 400
    assert r.json["message"] == "Invalid Stripe webhook signature or payload."
    assert sales() == []


def test_one_payment_reported_by_three_events_is_one_sale(client):
    factories.program(min_sale_amount=1000)
    referral = factories.referral(email="frank@example.com", created_at=utcnow() - timedelta(days=2))
    # The charge arrives first, without the buyer's email: the checkout session then names them.
    first = se.deliver(client, se.event("charge.succeeded", se.charge(email=None)))
    assert first.status_code == 200 and first.json["result"] == "processed"
    assert sales()[0].referral_id is None
    se.deliver(client, se.event("checkout.session.completed", se.checkout_session()))
    se.deliver(client, se.event("invoice.paid", se.invoice()))
    stored = sales()
    assert len(stored) == 1
    sale = stored[0]
    assert sale.stripe_payment_intent == "pi_test_1" and sale.external_id == "pi_test_1"
    assert sale.email == "frank@example.com" and sale.payment_fingerprint == "fp_buyer" and sale.amount == 5000
    assert sale.source == "stripe" and sale.referral_id == referral.id
    assert db.session.scalar(db.select(db.func.count()).select_from(Reward)) == 1


def test_a_replayed_event_changes_nothing(client):
    evt = se.event("charge.succeeded", se.charge())
    assert se.deliver(client, evt).json["result"] == "processed"
    replay = se.deliver(client, evt)
    assert replay.status_code == 200 and replay.json["result"] == "replay"
    assert len(sales()) == 1


def test_other_event_types_are_ignored(client):
    r = se.deliver(client, se.fixture("event"))
    assert r.status_code == 200 and r.json["result"] == "ignored"


def test_card_fingerprint_on_the_charge_flags_a_self_referral(client, api_as):
    factories.program(min_sale_amount=1000)
    referrer = factories.customer(email="rita@example.com")
    referral = factories.referral(referrer, email="frank@example.com", created_at=utcnow() - timedelta(days=2))
    se.deliver(client, se.event("charge.succeeded", se.charge("pi_rita", email="rita@example.com",
                                                              fingerprint="fp_rita")))
    se.deliver(client, se.event("charge.succeeded", se.charge("pi_frank", fingerprint="fp_rita")))
    detail = api_as("coordinator").get(f"/api/v1/referrals/{referral.id}").json
    assert detail["status"] == "review"
    check = {c["name"]: c for c in detail["decision"]["checks"]}["not_self_referral"]
    assert "same payment fingerprint" in check["detail"]


def test_refund_before_sale_out_of_order_then_sale_lands(client):
    factories.program(reward_type="percent", amount=None, percent=10, min_sale_amount=1000)
    factories.referral(email="frank@example.com", created_at=utcnow() - timedelta(days=2))
    charge = se.charge()
    r = se.deliver(client, se.event("charge.refunded", se.refunded_charge(charge, 2000)))
    assert r.status_code == 200 and sales() == []
    refund = db.session.scalar(db.select(Refund))
    assert refund.sale_id is None and refund.sale_ref == "pi_test_1" and refund.external_id == "re_test_1"
    se.deliver(client, se.event("charge.succeeded", charge))
    db.session.expire_all()
    assert db.session.scalar(db.select(Refund)).sale_id == sales()[0].id
    reward = db.session.scalar(db.select(Reward))
    assert reward.amount == 300  # 10 % of the 30.00 USD left after the refund
    # The same refund reported again (another event, same refund id) changes nothing.
    se.deliver(client, se.event("charge.refunded", se.refunded_charge(charge, 2000)))
    assert db.session.scalar(db.select(db.func.count()).select_from(Refund)) == 1


def test_refunded_amount_without_expanded_refunds_counts_once(client):
    charge = se.charge()
    se.deliver(client, se.event("charge.succeeded", charge))
    bare = dict(charge, amount_refunded=1500, refunded=False, refunds=None)
    se.deliver(client, se.event("charge.refunded", bare))
    se.deliver(client, se.event("charge.refunded", bare))
    assert [r.amount for r in db.session.scalars(db.select(Refund))] == [1500]


def test_the_same_event_delivered_twice_at_once_makes_one_sale(postgres):
    evt = se.event("charge.succeeded", se.charge())
    payload, headers = se.signed(evt)
    barrier, answers = threading.Barrier(2), []

    def deliver():
        with postgres.test_client() as client:
            barrier.wait()
            answers.append(client.post("/webhooks/stripe", data=payload, headers=headers).json["result"])

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["processed", "replay"]
    assert len(sales()) == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(StripeEvent)) == 1


def test_two_events_of_one_payment_at_once_make_one_sale(postgres):
    bodies = [se.signed(se.event("charge.succeeded", se.charge())),
              se.signed(se.event("checkout.session.completed", se.checkout_session()))]
    barrier, codes = threading.Barrier(2), []

    def deliver(payload, headers):
        with postgres.test_client() as client:
            barrier.wait()
            codes.append(client.post("/webhooks/stripe", data=payload, headers=headers).status_code)

    threads = [threading.Thread(target=deliver, args=body) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200, 200]
    assert len(sales()) == 1
