"""The JSON API's plumbing: keys, error shape, hostile bodies, paging, the OpenAPI document, customers."""
import pytest
from openapi_spec_validator import validate

from rewards.accounts import service as accounts
from rewards.extensions import db
from tests import factories


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer rk_wrong", "Basic abc", "Bearer " + "x" * 5000])
def test_missing_or_wrong_api_key_is_401(client, header):
    response = client.get("/api/v1/referrals", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json["code"] == 401 and response.json["status"] == "Unauthorized"
    assert "API key" in response.json["message"]


def test_revoked_api_key_is_401(api_as):
    api = api_as("coordinator")
    assert api.get("/api/v1/referrals").status_code == 200
    key = api.user and db.session.scalars(db.select(accounts.ApiKey).filter_by(user_id=api.user.id)).one()
    accounts.revoke_api_key(key)
    db.session.commit()
    assert api.get("/api/v1/referrals").status_code == 401


def test_key_of_disabled_user_is_401(api_as):
    api = api_as("coordinator")
    accounts.set_disabled(api.user, True)
    db.session.commit()
    assert api.get("/api/v1/referrals").status_code == 401


def test_a_key_records_its_last_use_at_most_once_a_minute(api_as):
    """The key's last use is written at most once a minute (on every call, one key's calls would queue on its row),
    by reads as well as writes; an audit event of a call's work names the key."""
    from datetime import timedelta

    from rewards.audit.models import AuditEvent
    from rewards.clock import utcnow

    api = api_as("coordinator")
    key = db.session.scalars(db.select(accounts.ApiKey).filter_by(user_id=api.user.id)).one()
    assert key.last_used_at is None
    assert api.get("/api/v1/referrals").status_code == 200  # a read: nothing else is committed
    db.session.refresh(key)
    read_at = key.last_used_at
    assert read_at is not None and utcnow() - read_at < timedelta(minutes=1)
    key.last_used_at = None
    db.session.commit()
    assert api.post("/api/v1/customers", json={"email": "a@example.com", "name": "A"}).status_code == 201
    db.session.refresh(key)
    first = key.last_used_at
    assert first is not None and utcnow() - first < timedelta(minutes=1)
    assert api.post("/api/v1/customers", json={"email": "b@example.com", "name": "B"}).status_code == 201
    db.session.refresh(key)
    assert key.last_used_at == first
    key.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    assert api.post("/api/v1/customers", json={"email": "c@example.com", "name": "C"}).status_code == 201
    db.session.refresh(key)
    assert key.last_used_at > first
    enrolled = db.session.scalars(db.select(AuditEvent).filter_by(action="customer.enrolled")).all()
    assert [(e.actor_user_id, e.actor_api_key_id) for e in enrolled] == [(api.user.id, key.id)] * 3


def test_session_cookie_does_not_open_the_api(client, login_as):
    login_as("coordinator")
    assert client.get("/api/v1/referrals").status_code == 401


def test_api_calls_neither_read_nor_renew_the_page_session(client, login_as):
    """The API answers a browser's cookie with no session at all: its answer sets no cookie (a page request renews
    a logged-in session's), and the page session goes on as it was."""
    login_as("coordinator")
    answer = client.get("/api/v1/referrals")
    assert answer.status_code == 401 and "Set-Cookie" not in answer.headers
    assert "Set-Cookie" in client.get("/admin").headers
    assert client.get("/admin").status_code == 200


def test_key_acts_with_its_users_role(api_as):
    assert api_as("finance").post("/api/v1/customers", json={"email": "a@example.com", "name": "A"}).status_code == 403
    assert api_as("coordinator").post("/api/v1/customers", json={"email": "a@example.com", "name": "A"}).status_code == 201


def test_enrol_customer(api_as):
    api = api_as("coordinator")
    response = api.post("/api/v1/customers", json={"email": " Zoe@Example.com", "name": "Zoe"})
    assert response.status_code == 201
    body = response.json
    assert body["email"] == "zoe@example.com" and body["name"] == "Zoe"
    assert body["referral_url"] == f"http://localhost/r/{body['referral_code']}"
    assert api.get(f"/api/v1/customers/{body['id']}").json["referral_code"] == body["referral_code"]
    again = api.post("/api/v1/customers", json={"email": "zoe@example.com", "name": "Zoe"})
    assert again.status_code == 409 and "already enrolled" in again.json["message"]


def test_referral_url_uses_public_base_url(api_as, app):
    app.config["PUBLIC_BASE_URL"] = "https://refer.shop.example/"
    body = api_as("coordinator").post("/api/v1/customers", json={"email": "y@example.com", "name": "Y"}).json
    assert body["referral_url"] == f"https://refer.shop.example/r/{body['referral_code']}"


def test_referral_codes_are_unique_and_url_safe(app):
    codes = {factories.customer().referral_code for _ in range(50)}
    assert len(codes) == 50
    assert all(len(c) == 12 and all(ch.isalnum() or ch in "-_" for ch in c) for c in codes)


def test_customer_reads_only_themselves(api_as):
    api = api_as("customer")
    other = factories.customer()
    assert api.get(f"/api/v1/customers/{api.user.customer.id}").status_code == 200
    assert api.get(f"/api/v1/customers/{other.id}").status_code == 404


def test_customer_refers_only_as_themselves(api_as):
    api = api_as("customer")
    other = factories.customer()
    own = api.post("/api/v1/referrals", json={"referee_email": "f@example.com", "referee_name": "F"})
    assert own.status_code == 201 and own.json["referrer_id"] == api.user.customer.id
    as_other = api.post("/api/v1/referrals", json={"referrer_id": other.id, "referee_email": "g@example.com",
                                                   "referee_name": "G"})
    assert as_other.status_code == 422


@pytest.mark.parametrize("body, field", [
    ({"email": 12, "name": "A"}, "email"),
    ({"email": "a@example.com", "name": ["A"]}, "name"),
    ({"email": "a@example.com"}, "name"),
    ({"email": "a@example.com", "name": "A", "shoe_size": 44}, "shoe_size"),
    ({"email": "a@example.com", "name": "A" * 100_000}, "name"),
    ({"email": "a" * 300 + "@example.com", "name": "A"}, "email"),
    ({"email": None, "name": "A"}, "email"),
])
def test_malformed_fields_are_422(api_as, body, field):
    response = api_as("coordinator").post("/api/v1/customers", json=body)
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b""])
def test_malformed_json_is_4xx(api_as, raw):
    api = api_as("coordinator")
    response = api.post("/api/v1/referrals", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_wrong_types_in_referral(api_as):
    response = api_as("coordinator").post("/api/v1/referrals", json={
        "referrer_id": "1; drop table", "referee_email": {"a": 1}, "referee_name": 5})
    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"referrer_id", "referee_email", "referee_name"}


def test_ten_megabyte_body_is_413(api_as):
    response = api_as("coordinator").post("/api/v1/customers", data=b"x" * (10 * 1024 * 1024),
                                          headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json["code"] == 413


def test_unknown_ids_are_404_in_the_error_shape(api_as):
    response = api_as("coordinator").get("/api/v1/referrals/424242")
    assert response.status_code == 404
    assert response.json == {"code": 404, "status": "Not Found", "message": "No such referral.", "errors": {}}


def test_paging(api_as):
    referrer = factories.customer()
    for _ in range(7):
        factories.referral(referrer)
    api = api_as("coordinator")
    response = api.get("/api/v1/referrals?page=2&page_size=5")
    assert len(response.json) == 2
    assert '"total": 7' in response.headers["X-Pagination"]
    assert api.get("/api/v1/referrals?page_size=501").status_code == 422
    assert api.get("/api/v1/referrals?status=bogus").status_code == 422


def test_openapi_document_is_valid_openapi_3(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    validate(spec)
    assert {"/api/v1/customers", "/api/v1/referrals", "/api/v1/referrals/{referral_id}"} <= set(spec["paths"])
