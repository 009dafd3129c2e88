"""POST/GET /api/v1/referrals: recording referrals and the refusals the program makes."""
import pytest

from tests import factories


@pytest.fixture
def referrer(app):
    return factories.customer(email="rita@example.com", phone="+14155550100")


def test_coordinator_records_a_referral_by_code(api_as, referrer):
    api = api_as("coordinator")
    r = api.post("/api/v1/referrals", json={"referral_code": referrer.referral_code,
                                             "referee_email": "  Frank@Example.COM ", "referee_name": "Frank",
                                             "referee_phone": "(415) 555-0199"})
    assert r.status_code == 201, r.json
    body = r.json
    assert body["referrer_id"] == referrer.id
    assert body["referee_email"] == "frank@example.com"
    assert body["referee_phone"] == "+14155550199"
    assert body["status"] == "pending" and body["source"] == "api"
    assert body["created_at"].endswith("Z")


@pytest.mark.parametrize("payload, status, field, message", [
    ({"referee_email": "not-an-email"}, 422, "referee_email", "Not a valid email"),
    ({"referee_email": "rita@example.com"}, 422, "referee_email", "cannot refer yourself"),
    ({"referee_email": "Rita+promo@example.com"}, 422, "referee_email", "cannot refer yourself"),
    ({"referee_phone": "+1 415 555 0100"}, 422, "referee_email", "cannot refer yourself"),
    ({"referee_phone": "12"}, 422, "referee_phone", "Not a valid phone"),
    ({"referee_email": "member@example.com"}, 409, "referee_email", "already a customer"),
])
def test_refusals(api_as, referrer, payload, status, field, message):
    factories.customer(email="member@example.com")
    body = {"referral_code": referrer.referral_code, "referee_email": "frank@example.com", "referee_name": "Frank",
            **payload}
    r = api_as("coordinator").post("/api/v1/referrals", json=body)
    assert r.status_code == status
    assert message in r.json["message"]
    assert message in r.json["errors"][field][0]
    assert set(r.json) == {"code", "status", "message", "errors"}


def test_same_referee_twice_by_same_referrer_is_409(api_as, referrer):
    api = api_as("coordinator")
    body = {"referrer_id": referrer.id, "referee_email": "frank@example.com", "referee_name": "Frank"}
    assert api.post("/api/v1/referrals", json=body).status_code == 201
    again = api.post("/api/v1/referrals", json={**body, "referee_email": "FRANK@example.com "})
    assert again.status_code == 409
    assert again.json["message"] == "You have already referred this person."
    other = factories.customer()
    assert api.post("/api/v1/referrals", json={**body, "referrer_id": other.id}).status_code == 201


def test_customer_sees_only_their_own_referrals(api_as, referrer):
    mine = factories.referral(referrer)
    api = api_as("customer")
    own = factories.referral(api.user.customer)
    assert api.get(f"/api/v1/referrals/{mine.id}").status_code == 404
    assert api.get(f"/api/v1/referrals/{own.id}").status_code == 200
    listed = api.get("/api/v1/referrals").json
    assert [r["id"] for r in listed] == [own.id]
