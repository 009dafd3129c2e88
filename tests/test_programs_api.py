"""/api/v1/programs, /rewards, /customers/{id}/balance and the what-if run, as an integration calls them."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.programs.service import program_in_force
from tests import factories

PROGRAM = {"name": "Friends", "currency": "usd", "reward_type": "percent", "percent": "12.5",
           "min_sale_amount": 2000, "max_reward_amount": 5000, "attribution_days": 30, "hold_days": 14}


def test_coordinator_creates_versions_and_lists_them(api_as):
    api = api_as("coordinator")
    first = api.post("/api/v1/programs", json={**PROGRAM, "effective_from": "2026-01-01T00:00:00+01:00"})
    assert first.status_code == 201, first.json
    body = first.json
    assert body["percent"] == "12.5" and body["version"] == 1 and body["amount"] is None
    assert body["effective_from"] == "2025-12-31T23:00:00Z"
    second = api.post("/api/v1/programs", json={
        **PROGRAM, "reward_type": "flat", "percent": None, "amount": 1500, "yearly_cap_amount": 10000,
        "tiers": [{"from_referral": 5, "percent": "15"}], "referee_coupon_code": "HELLO"})
    assert second.status_code == 201, second.json
    assert second.json["version"] == 2
    assert second.json["tiers"] == [{"from_referral": 5, "amount": None, "percent": "15"}]
    assert abs(datetime.fromisoformat(second.json["effective_from"]) - utcnow()) < timedelta(minutes=1)
    api.post("/api/v1/programs", json={**PROGRAM, "currency": "jpy"})
    listed = api.get("/api/v1/programs?currency=usd&page_size=1")
    assert [p["version"] for p in listed.json] == [2]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 2


@pytest.mark.parametrize("change, field", [
    ({"reward_type": "flat", "percent": None}, "amount"),
    ({"percent": None}, "percent"),
    ({"amount": 100}, "amount"),
    ({"percent": 12.5}, "percent"),
    ({"percent": "abc"}, "percent"),
    ({"percent": "0"}, "percent"),
    ({"percent": "100.5"}, "percent"),
    ({"percent": "1.23456"}, "percent"),
    ({"min_sale_amount": -1}, "min_sale_amount"),
    ({"max_reward_amount": 0}, "max_reward_amount"),
    ({"hold_days": -3}, "hold_days"),
    ({"attribution_days": 0}, "attribution_days"),
    ({"currency": "USD"}, "currency"),
    ({"yearly_cap_amount": -5}, "yearly_cap_amount"),
    ({"reward_type": "flat", "percent": None, "amount": 6000}, "amount"),
    ({"tiers": [{"from_referral": 1, "amount": 5}]}, "tiers"),
    ({"tiers": [{"from_referral": 3}]}, "tiers"),
    ({"tiers": [{"from_referral": 3, "amount": 5, "percent": "2"}]}, "tiers"),
    ({"tiers": [{"from_referral": 3, "amount": 5}, {"from_referral": 3, "amount": 6}]}, "tiers"),
    ({"surprise": 1}, "surprise"),
])
def test_inconsistent_rules_are_422_naming_the_field(api_as, change, field):
    response = api_as("coordinator").post("/api/v1/programs", json={**PROGRAM, **change})
    assert response.status_code == 422, response.json
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert field in json.dumps(response.json["errors"])
    assert db.session.scalar(db.select(db.func.count()).select_from(db.metadata.tables["programs"])) == 0


def test_a_program_effective_from_now_does_not_reward_earlier_sales(api_as):
    assert api_as("coordinator").post("/api/v1/programs", json=PROGRAM).status_code == 201
    assert program_in_force("usd", utcnow() - timedelta(minutes=5)) is None
    assert program_in_force("usd", utcnow() + timedelta(minutes=1)).percent == 12.5


def test_only_coordinators_manage_programs(api_as):
    assert api_as("finance").post("/api/v1/programs", json=PROGRAM).status_code == 403
    assert api_as("customer").get("/api/v1/programs").status_code == 403


@pytest.fixture
def rewards_of_two(app):
    """Rita: one reward out of hold, one still held (payable_at in a year); Bob: one reward."""
    factories.program(amount=1000, hold_days=30)
    rita_user = factories.user(role="customer")
    rita, bob = rita_user.customer, factories.customer()
    past = factories.rewarded_sale(rita, occurred_at=datetime(2026, 1, 10, tzinfo=timezone.utc))
    held = factories.rewarded_sale(rita, occurred_at=utcnow() + timedelta(days=335))
    bobs = factories.rewarded_sale(bob, occurred_at=datetime(2026, 2, 1, tzinfo=timezone.utc))
    return rita_user, rita, bob, past, held, bobs


def test_rewards_filter_by_status_derived_from_payable_at(api_as, rewards_of_two):
    _, rita, _, past, held, bobs = rewards_of_two
    api = api_as("finance")
    assert {r["id"] for r in api.get("/api/v1/rewards").json} == {past.id, held.id, bobs.id}
    payable = api.get(f"/api/v1/rewards?referrer_id={rita.id}&status=payable").json
    assert [(r["id"], r["status"]) for r in payable] == [(past.id, "payable")]
    assert [r["id"] for r in api.get("/api/v1/rewards?status=held").json] == [held.id]
    item = payable[0]
    assert set(item) >= {"id", "referral_id", "referrer_id", "sale_id", "amount", "currency", "status",
                         "payable_at", "program_id"}
    assert item["payable_at"] == "2026-02-09T00:00:00Z" and item["amount"] == 1000
    assert api.get("/api/v1/rewards?status=soon").status_code == 422


def test_a_customer_sees_only_their_own_rewards_and_balance(api_as, rewards_of_two):
    rita_user, rita, bob, past, held, bobs = rewards_of_two
    api = api_as(user=rita_user)
    assert {r["id"] for r in api.get("/api/v1/rewards").json} == {past.id, held.id}
    assert api.get(f"/api/v1/rewards?referrer_id={bob.id}").status_code == 404
    assert api.get(f"/api/v1/rewards/{bobs.id}").status_code == 404
    assert api.get(f"/api/v1/rewards/{past.id}").json["id"] == past.id
    assert api.get(f"/api/v1/customers/{bob.id}/balance").status_code == 404
    balance = api.get(f"/api/v1/customers/{rita.id}/balance")
    assert balance.status_code == 200
    assert balance.json == [{"currency": "usd", "held": 1000, "payable": 1000, "paid": 0, "batched": 0, "earned": 2000,
                             "reversed": 0, "owed": 0}]


def test_balance_of_unknown_customer_is_404_and_of_a_new_one_empty(api_as, app):
    api = api_as("finance")
    assert api.get("/api/v1/customers/999999/balance").status_code == 404
    assert api.get(f"/api/v1/customers/{factories.customer().id}/balance").json == []


def test_what_if_compares_candidate_rules_with_the_real_rewards(api_as, app):
    factories.program(amount=1000)
    rita, bob = factories.customer(), factories.customer()
    day = datetime(2026, 4, 1, 12, tzinfo=timezone.utc)
    for referrer, amount in ((rita, 30000), (rita, 8000), (rita, 1000), (bob, 50000)):
        factories.rewarded_sale(referrer, amount=amount, occurred_at=day)
    rejected = factories.referral(bob, status="rejected", created_at=day - timedelta(days=1))
    factories.sale(rejected, amount=90000, occurred_at=day)
    outside = factories.rewarded_sale(bob, occurred_at=datetime(2026, 5, 2, tzinfo=timezone.utc))
    factories.refund(outside.sale, 10000)
    candidate = {"currency": "usd", "reward_type": "percent", "percent": "10", "min_sale_amount": 5000,
                 "max_reward_amount": 4000, "attribution_days": 30, "yearly_cap_amount": 3500,
                 "from": "2026-04-01", "to": "2026-04-30"}
    response = api_as("coordinator").post("/api/v1/programs/what-if", json=candidate)
    assert response.status_code == 200, response.json
    assert response.json == {
        "currency": "usd", "from": "2026-04-01", "to": "2026-04-30", "sales": 4,
        "actual": {"qualified": 4, "rewards": 4, "cost": 4000},
        # Rita: 3000, then 800 cut to 500 by the yearly cap of 3500, and 1000 is below the minimum sale;
        # Bob: 10% of 50000 is 5000, 4000 by the maximum per referral, 3500 by the yearly cap.
        "candidate": {"qualified": 3, "rewards": 3, "cost": 7000}}
    bad = api_as("coordinator").post("/api/v1/programs/what-if", json={**candidate, "to": "2026-03-01"})
    assert bad.status_code == 422 and "to" in bad.json["errors"]
