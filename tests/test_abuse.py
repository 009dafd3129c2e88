"""Abuse from outside and inside: malformed signed Stripe events, forged times, referral floods, codes beating
email claims, staff deciding their own referrals, and what a customer may read about a decision."""
import copy
import time
from datetime import timedelta

import pytest
import stripe

from rewards.audit.models import AuditEvent
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.programs.models import Reward
from rewards.referrals.models import Referral
from rewards.sales.models import Refund, Sale, StripeEvent
from tests import factories
from tests import stripe_events as se
from tests.conftest import csrf_token

ERROR_KEYS = {"code", "status", "message", "errors"}


@pytest.fixture
def app_config():
    return {"STRIPE_WEBHOOK_SECRET": se.WEBHOOK_SECRET}


# Stripe events: signed but malformed → 400 and recorded as rejected; times outside the tolerance → 400.
def _malformed(kind):
    charge = se.charge()
    if kind == "object-is-a-list":
        return se.event("charge.succeeded", [charge])
    if kind == "amount-is-text":
        return se.event("charge.succeeded", dict(charge, amount="abc"))
    if kind == "created-is-huge":
        return se.event("charge.succeeded", dict(charge, created=1e15))
    if kind == "created-is-huge-int":
        return se.event("charge.succeeded", dict(charge, created=10**15))
    if kind == "amount-too-large":
        return se.event("charge.succeeded", dict(charge, amount=2**31))
    if kind == "refund-without-id":
        refunded = se.refunded_charge(charge, 1000)
        del refunded["refunds"]["data"][0]["id"]
        return se.event("charge.refunded", refunded)
    if kind == "billing-is-a-string":
        return se.event("charge.succeeded", dict(charge, billing_details="frank@example.com"))
    if kind == "card-is-a-list":
        details = copy.deepcopy(charge["payment_method_details"])
        details["card"] = ["x"]
        return se.event("charge.succeeded", dict(charge, payment_method_details=details))
    if kind == "nul-in-code":
        return se.event("charge.succeeded", dict(charge, metadata={"referral_code": "ab\x00cd"}))
    if kind == "currency-too-long":
        return se.event("charge.succeeded", dict(charge, currency="usdx"))
    if kind == "checkout-amount-is-float":
        return se.event("checkout.session.completed", se.checkout_session(amount=50.5))
    if kind == "invoice-paid-at-is-text":
        invoice = se.invoice()
        invoice["status_transitions"]["paid_at"] = "yesterday"
        return se.event("invoice.paid", invoice)
    if kind == "account-requirements-is-a-list":
        return se.event("account.updated", {"id": "acct_1", "object": "account", "requirements": ["x"]})
    if kind == "transfer-reversed-amount-is-text":
        return se.event("transfer.reversed", {"id": "tr_1", "object": "transfer", "amount_reversed": "all"})
    if kind == "invoice-payment-is-a-string":
        invoice = se.invoice()
        invoice["payments"]["data"][0]["payment"] = "pi_1"
        return se.event("invoice.paid", invoice)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["object-is-a-list", "amount-is-text", "created-is-huge", "created-is-huge-int",
                                  "amount-too-large", "refund-without-id", "billing-is-a-string", "card-is-a-list",
                                  "nul-in-code", "currency-too-long", "checkout-amount-is-float",
                                  "invoice-paid-at-is-text", "invoice-payment-is-a-string",
                                  "account-requirements-is-a-list", "transfer-reversed-amount-is-text"])
def test_a_signed_but_malformed_event_is_400_and_recorded_as_rejected(client, kind):
    evt = _malformed(kind)
    response = se.deliver(client, evt)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert set(response.json) == ERROR_KEYS and response.json["errors"]
    rejected = db.session.scalars(db.select(AuditEvent).filter_by(action="stripe.event_rejected")).all()
    assert [event.detail["event_id"] for event in rejected] == [evt["id"]]
    assert db.session.scalar(db.select(db.func.count()).select_from(Sale)) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(Refund)) == 0
    # Not stored as processed: a corrected delivery of the same event is still handled.
    assert db.session.get(StripeEvent, evt["id"]) is None


@pytest.mark.parametrize("offset", [3600, 301, -301, -3600])
def test_a_signature_timed_outside_the_tolerance_either_way_is_400(client, offset):
    evt = se.event("charge.succeeded", se.charge())
    payload, headers = se.signed(evt)
    headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), se.WEBHOOK_SECRET, timestamp=int(time.time()) + offset)
    response = client.post("/webhooks/stripe", data=payload, headers=headers)
    assert response.status_code == 400
    assert response.json["message"] == "Invalid Stripe webhook signature or payload."
    assert db.session.scalar(db.select(db.func.count()).select_from(Sale)) == 0


def test_a_signature_within_the_tolerance_is_accepted(client):
    evt = se.event("charge.succeeded", se.charge())
    payload, headers = se.signed(evt)
    headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), se.WEBHOOK_SECRET, timestamp=int(time.time()) + 60)
    assert client.post("/webhooks/stripe", data=payload, headers=headers).status_code == 200


def test_a_deeply_nested_signed_event_is_400(client):
    evt = se.event("charge.succeeded", se.charge())
    payload = se.json.dumps(evt)[:-1] + ', "deep": ' + "[" * 50_000 + "]" * 50_000 + "}"
    header = stripe.WebhookSignature.generate_signature_header(payload, se.WEBHOOK_SECRET)
    response = client.post("/webhooks/stripe", data=payload.encode(),
                           headers={"Stripe-Signature": header, "Content-Type": "application/json"})
    assert response.status_code == 400 and set(response.json) == ERROR_KEYS


# Referral floods: per-client and per-code throttles on the link page; a daily limit per customer.
def _landing(client, code, email, address="198.51.100.7"):
    environ = {"REMOTE_ADDR": address}
    token = csrf_token(client.get(f"/r/{code}", environ_base=environ).get_data(as_text=True))
    return client.post(f"/r/{code}", data={"name": "Lead", "email": email, "csrf_token": token},
                       environ_base=environ)


def test_the_reported_floods_are_held_back_by_the_default_settings(client, api_as):
    """30 anonymous referrals on one link and 100 through one customer's key were all accepted."""
    rita = factories.customer()
    link = [_landing(client, rita.referral_code, f"lead{i}@example.com").status_code for i in range(30)]
    assert link.count(200) == 10 and link.count(429) == 20
    api = api_as("customer")
    keyed = [api.post("/api/v1/referrals", json={"referee_email": f"k{i}@example.com", "referee_name": "K"})
             .status_code for i in range(100)]
    assert keyed.count(201) == 20 and keyed.count(429) == 80


def test_the_link_page_is_throttled_per_client(app, client):
    app.config["LANDING_RATE_LIMIT_PER_CLIENT"] = "3 per hour"
    rita = factories.customer()
    answers = [_landing(client, rita.referral_code, f"lead{i}@example.com").status_code for i in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    assert db.session.scalar(db.select(db.func.count()).select_from(Referral)) == 3
    # Another client is not held back by the first one's flood.
    assert _landing(client, rita.referral_code, "other@example.com", "203.0.113.9").status_code == 200


def test_the_link_page_is_throttled_per_code_from_any_client(app, client):
    app.config["LANDING_RATE_LIMIT_PER_CODE"] = "4 per day"
    rita, sam = factories.customer(), factories.customer()
    answers = [_landing(client, rita.referral_code, f"lead{i}@example.com", f"198.51.100.{i}").status_code
               for i in range(6)]
    assert answers == [200, 200, 200, 200, 429, 429]
    # Another customer's link is counted on its own.
    assert _landing(client, sam.referral_code, "sams@example.com", "198.51.100.50").status_code == 200


def test_referrals_a_day_are_limited_per_customer_through_the_api(app, api_as):
    app.config["REFERRALS_PER_DAY"] = 5
    api = api_as("customer")
    codes = [api.post("/api/v1/referrals", json={"referee_email": f"lead{i}@example.com", "referee_name": "L"})
             .status_code for i in range(8)]
    assert codes == [201] * 5 + [429] * 3
    refused = api.post("/api/v1/referrals", json={"referee_email": "late@example.com", "referee_name": "L"})
    assert set(refused.json) == ERROR_KEYS and refused.json["code"] == 429
    assert "referee_email" in refused.json["errors"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Referral)) == 5


def test_the_daily_limit_counts_the_last_24_hours_only(app, api_as):
    app.config["REFERRALS_PER_DAY"] = 2
    api = api_as("customer")
    customer = api.user.customer
    factories.referral(customer, created_at=utcnow() - timedelta(hours=25))
    factories.referral(customer, created_at=utcnow() - timedelta(hours=1))
    assert api.post("/api/v1/referrals", json={"referee_email": "a@example.com", "referee_name": "A"}).status_code \
        == 201
    assert api.post("/api/v1/referrals", json={"referee_email": "b@example.com", "referee_name": "B"}).status_code \
        == 429


def test_the_daily_limit_shows_on_the_portal_form(app, pages, login_as):
    app.config["REFERRALS_PER_DAY"] = 1
    login_as("customer")
    assert pages.submit("/portal/referrals/new", {"referee_name": "A", "referee_email": "a@example.com"}) \
        .status_code == 302
    refused = pages.submit("/portal/referrals/new", {"referee_name": "B", "referee_email": "b@example.com"})
    assert refused.status_code == 422 and "most the program takes in a day" in refused.get_data(as_text=True)


# Attribution: a sale naming a code belongs to that code's referrer, whatever other referrals name the buyer.
def _sale(api, **overrides):
    body = {"external_id": "order-1", "email": "frank@example.com", "amount": 5000, "currency": "usd",
            "occurred_at": utcnow().isoformat(), **overrides}
    response = api.post("/api/v1/sales", json=body)
    assert response.status_code == 201, response.json
    return response.json


def test_a_sale_naming_a_code_beats_an_earlier_claim_by_email(api_as, app):
    factories.program(min_sale_amount=1000)
    squatter, real = factories.customer(), factories.customer()
    early = factories.referral(squatter, email="frank@example.com", created_at=utcnow() - timedelta(days=3))
    late = factories.referral(real, email="frank@example.com", created_at=utcnow() - timedelta(days=1))
    api = api_as("coordinator")
    body = _sale(api, referral_code=real.referral_code)
    assert body["referral_id"] == late.id and body["reward"]["referrer_id"] == real.id
    assert db.session.get(Referral, early.id).status == "rejected"
    check = {c["name"]: c for c in api.get(f"/api/v1/referrals/{early.id}").json["decision"]["checks"]}
    assert check["earliest_referral"]["passed"] is False
    assert "names another referrer's referral code" in check["earliest_referral"]["detail"]
    assert [r.referrer_id for r in db.session.scalars(db.select(Reward))] == [real.id]


def test_a_sale_naming_another_customers_code_does_not_reward_an_email_claim(api_as, app):
    factories.program(min_sale_amount=1000)
    squatter, real = factories.customer(), factories.customer()
    claim = factories.referral(squatter, email="frank@example.com", created_at=utcnow() - timedelta(days=3))
    body = _sale(api_as("coordinator"), referral_code=real.referral_code)
    assert body["referral_id"] is None and body["reward"] is None
    assert db.session.get(Referral, claim.id).status == "rejected"


def test_a_stripe_payment_carrying_a_code_is_attributed_to_its_referrer(client, app):
    factories.program(min_sale_amount=1000)
    squatter, real = factories.customer(), factories.customer()
    early = factories.referral(squatter, email="frank@example.com", created_at=utcnow() - timedelta(days=3))
    late = factories.referral(real, email="frank@example.com", created_at=utcnow() - timedelta(days=1))
    charge = se.charge(metadata={"referral_code": real.referral_code})
    assert se.deliver(client, se.event("charge.succeeded", charge)).status_code == 200
    assert db.session.get(Referral, late.id).status == "qualified"
    assert db.session.get(Referral, early.id).status == "rejected"


def test_without_a_code_the_earliest_email_match_still_wins(api_as, app):
    factories.program(min_sale_amount=1000)
    first = factories.referral(factories.customer(), email="frank@example.com",
                               created_at=utcnow() - timedelta(days=3))
    factories.referral(factories.customer(), email="frank@example.com", created_at=utcnow() - timedelta(days=1))
    assert _sale(api_as("coordinator"))["referral_id"] == first.id


def test_an_unknown_code_on_a_sale_does_not_block_the_email_match(api_as, app):
    factories.program(min_sale_amount=1000)
    referral = factories.referral(factories.customer(), email="frank@example.com",
                                  created_at=utcnow() - timedelta(days=3))
    assert _sale(api_as("coordinator"), referral_code="no-such-code")["referral_id"] == referral.id


# Separation of duties.
@pytest.fixture
def own_referral(app):
    """A coordinator enrolled herself as a customer and referred a friend, who bought."""
    factories.program(min_sale_amount=1000)
    coordinator = factories.user("coordinator", email="cora@example.com")
    cora = factories.customer(email="cora@example.com")
    referral = factories.referral(cora, email="frank@example.com", created_at=utcnow() - timedelta(days=2))
    db.session.add(Sale(external_id="frank-1", email="frank@example.com", amount=5000, currency="usd",
                        occurred_at=utcnow(), source="api"))
    db.session.commit()
    from rewards.sales.validation import revalidate
    revalidate()
    db.session.commit()
    return coordinator, referral


def test_a_reward_for_a_staff_members_own_customer_record_goes_to_review(api_as, own_referral):
    _, referral = own_referral
    assert db.session.get(Referral, referral.id).status == "review"
    assert db.session.scalar(db.select(Reward)) is None
    checks = {c["name"]: c for c in api_as("coordinator").get(f"/api/v1/referrals/{referral.id}")
              .json["decision"]["checks"]}
    assert checks["not_staff_referrer"]["passed"] is False and "cora@example.com" in \
        checks["not_staff_referrer"]["detail"]


def test_staff_cannot_approve_or_reject_their_own_referral(api_as, own_referral):
    coordinator, referral = own_referral
    api = api_as(user=coordinator)
    approve = api.post(f"/api/v1/referrals/{referral.id}/approve")
    assert approve.status_code == 403 and set(approve.json) == ERROR_KEYS
    assert "another coordinator" in approve.json["message"]
    assert api.post(f"/api/v1/referrals/{referral.id}/reject", json={"reason": "x"}).status_code == 403
    assert db.session.get(Referral, referral.id).status == "review"
    # Someone else may.
    assert api_as("coordinator").post(f"/api/v1/referrals/{referral.id}/approve").status_code == 200
    assert db.session.scalar(db.select(Reward)).referrer_id == referral.referrer_id


def test_staff_cannot_decide_a_referral_of_which_they_are_the_referee(api_as, app):
    referee = factories.user("coordinator", email="Nia.Staff+x@example.com")
    referral = factories.referral(email="nia.staff@example.com", status="review")
    response = api_as(user=referee).post(f"/api/v1/referrals/{referral.id}/reject", json={"reason": "no"})
    assert response.status_code == 403


def test_staff_matched_by_phone_cannot_decide(api_as, app):
    coordinator = factories.user("coordinator")
    from rewards.customers.service import enroll_customer
    enroll_customer("cora.home@example.com", "Cora", "+14155550123", user=None)
    own = db.session.scalar(db.select(factories.Customer).filter_by(email="cora.home@example.com"))
    own.user_id = coordinator.id
    db.session.commit()
    referral = factories.referral(email="someone@example.com", referee_phone="+14155550123", status="review")
    assert api_as(user=coordinator).post(f"/api/v1/referrals/{referral.id}/reject", json={"reason": "x"}) \
        .status_code == 403


def test_the_review_page_refuses_self_approval_with_a_message(client, pages, own_referral):
    coordinator, referral = own_referral
    pages.login(coordinator.email)
    token = csrf_token(client.get("/admin/review").get_data(as_text=True))
    response = client.post(f"/admin/review/{referral.id}/approve", data={"csrf_token": token},
                           follow_redirects=True)
    assert "another coordinator must decide it" in response.get_data(as_text=True)
    assert db.session.get(Referral, referral.id).status == "review"


# Privacy: a customer sees the status and one plain sentence; the decision is for staff.
@pytest.fixture
def decided(app, api_as):
    factories.program(min_sale_amount=1000)
    customer_api = api_as("customer")
    rita = customer_api.user.customer
    other = factories.referral(factories.customer(), email="frank@example.com",
                               created_at=utcnow() - timedelta(days=9))
    mine = factories.referral(rita, email="frank@example.com", created_at=utcnow() - timedelta(days=2))
    db.session.add(Sale(external_id="earlier-order-77", email="frank@example.com", amount=4321, currency="usd",
                        occurred_at=utcnow() - timedelta(days=5), source="api"))
    db.session.add(Sale(external_id="order-88", email="frank@example.com", amount=98765, currency="usd",
                        occurred_at=utcnow(), source="api"))
    db.session.commit()
    from rewards.sales.validation import revalidate
    revalidate()
    db.session.commit()
    return customer_api, mine, other


def test_a_customer_reads_her_referral_without_the_decision(decided, api_as):
    customer_api, mine, other = decided
    body = customer_api.get(f"/api/v1/referrals/{mine.id}").json
    assert body["decision"] is None
    assert body["status"] == db.session.get(Referral, mine.id).status
    assert body["status_message"] and body["status_message"].endswith(".")
    text = str(body)
    for secret in ("98765", "987.65", "4321", "43.21", "earlier-order-77", "order-88", f"#{other.id}"):
        assert secret not in text
    listed = customer_api.get("/api/v1/referrals").json
    assert all("decision" not in item for item in listed)
    # Staff see the whole decision.
    assert api_as("coordinator").get(f"/api/v1/referrals/{mine.id}").json["decision"]["checks"]


def test_the_portal_shows_the_sentence_and_no_amounts_or_ids_of_others(decided, client, pages):
    customer_api, mine, other = decided
    pages.login(customer_api.user.email)
    html = client.get(f"/portal/referrals/{mine.id}").get_data(as_text=True)
    assert 'id="status-message"' in html
    for secret in ("987.65", "43.21", "earlier-order-77", "order-88", f"#{other.id}"):
        assert secret not in html
    home = client.get("/portal").get_data(as_text=True)
    assert "987.65" not in home and "order-88" not in home


def test_portal_rewards_show_the_reward_not_the_buyers_purchase_amount(client, pages, api_as):
    customer_api = api_as("customer")
    factories.program(amount=1500)
    factories.rewarded_sale(customer_api.user.customer, amount=76543)
    pages.login(customer_api.user.email)
    home = client.get("/portal").get_data(as_text=True)
    assert "15.00" in home and "765.43" not in home
