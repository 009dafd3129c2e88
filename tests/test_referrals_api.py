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


def test_two_identical_submissions_at_once_record_one_referral(postgres, referrer):
    """The second passes the duplicate check before the first commits; the unique constraint answers it with 409."""
    import threading
    import time

    from rewards.errors import Conflict
    from rewards.extensions import db
    from rewards.referrals.models import Referral
    from rewards.referrals.service import submit_referral

    first_flushed, outcomes, referrer_id = threading.Event(), {}, referrer.id

    def submit(name):
        with postgres.app_context():
            customer = db.session.get(type(referrer), referrer_id)
            if name == "second":
                first_flushed.wait(5)
            try:
                submit_referral(customer, "frank@example.com", "Frank", "api")
                if name == "first":
                    first_flushed.set()
                    time.sleep(0.5)  # the second is now blocked on this uncommitted row
                db.session.commit()
                outcomes[name] = "created"
            except Conflict as exc:
                db.session.rollback()
                outcomes[name] = exc.message

    threads = [threading.Thread(target=submit, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert outcomes == {"first": "created", "second": "You have already referred this person."}
    assert db.session.scalar(db.select(db.func.count(Referral.id))) == 1
