"""POST /api/v1/sales and refunds: idempotent, refusals, refunds before their sale, rewards adjusted."""
import threading
from datetime import timedelta

import pytest

from rewards.accounts.models import ApiKey
from rewards.audit.models import AuditEvent
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.programs.models import Reward
from rewards.sales.models import Refund, Sale
from tests import factories

WHEN = "2026-03-01T10:00:00+01:00"


def body(**overrides):
    return {"external_id": "order-1", "email": "buyer@example.com", "amount": 5000, "currency": "usd",
            "occurred_at": WHEN, **overrides}


def test_a_sale_that_proves_a_referral_is_weighed_and_rewarded_by_one_reading_of_the_program(api_as):
    """The program the decision was weighed by is the one the reward is computed with: read once, in one statement
    with its tiers; the new sale is weighed by what was inserted, never read back; its few candidate referrals
    are read by one plain statement, not through a server-side cursor (DECLARE, FETCH, CLOSE: three round trips,
    and a plan made afresh each time) as a re-validation of every pending referral streams them."""
    from sqlalchemy import event

    program = factories.program(min_sale_amount=1000)
    referral = factories.referral(email="buyer@example.com", created_at=utcnow() - timedelta(days=1))
    api, statements, cursors = api_as("coordinator"), [], []

    def seen(conn, cursor, statement, *_):
        statements.append(" ".join(statement.split()))
        cursors.append(type(cursor).__name__)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        answer = api.post("/api/v1/sales", json=body(occurred_at=utcnow().isoformat()))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert answer.status_code == 201 and answer.json["referral_id"] == referral.id
    assert answer.json["reward"]["amount"] == 1000
    assert answer.json["reward"]["program_id"] == program.id
    # The currency's active versions with their tiers, once.
    reads = [s for s in statements if " FROM programs " in s]
    assert len(reads) == 1 and "JOIN program_tiers" in reads[0]
    assert "ServerCursor" not in cursors
    if db.engine.dialect.name == "postgresql":  # SQLite loads the sale to write its audit event (no CTE there)
        assert not [s for s in statements if s.startswith(("SELECT sales.id, sales.external_id", "SELECT sales.referral_id"))]


def test_same_sale_twice_is_200_and_nothing_new_other_content_is_409(api_as):
    api = api_as("coordinator")
    first = api.post("/api/v1/sales", json=body())
    assert first.status_code == 201, first.json
    again = api.post("/api/v1/sales", json=body(email="BUYER@example.com", occurred_at="2026-03-01T09:00:00Z"))
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    other = api.post("/api/v1/sales", json=body(amount=4999))
    assert other.status_code == 409 and "different content" in other.json["message"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Sale)) == 1
    stored = db.session.get(Sale, first.json["id"])
    assert stored.source == "api" and stored.occurred_at.isoformat() == "2026-03-01T09:00:00+00:00"


def test_a_sale_is_audited_once_under_the_key_and_address_that_reported_it(api_as):
    api = api_as("coordinator")
    sale = api.post("/api/v1/sales", json=body(), environ_base={"REMOTE_ADDR": "203.0.113.7"}).json
    assert api.post("/api/v1/sales", json=body()).status_code == 200  # a repeat: no second event
    events = db.session.scalars(db.select(AuditEvent).filter_by(action="sale.recorded")).all()
    key_id = db.session.scalar(db.select(ApiKey.id).filter_by(user_id=api.user.id))
    assert [(e.entity_type, e.entity_id, e.detail, e.actor_user_id, e.actor_api_key_id, e.ip) for e in events] == [
        ("sales", sale["id"], {"external_id": "order-1", "source": "api", "amount": 5000, "currency": "usd"},
         api.user.id, key_id, "203.0.113.7")]
    assert utcnow() - timedelta(minutes=1) < events[0].created_at <= utcnow()


def test_a_repeat_answers_with_the_reward_the_sale_earned(api_as):
    factories.program(min_sale_amount=1000)
    referral = factories.referral(email="buyer@example.com", created_at=utcnow() - timedelta(days=1))
    api, payload = api_as("coordinator"), body(occurred_at=utcnow().isoformat())
    first = api.post("/api/v1/sales", json=payload)
    assert first.status_code == 201 and first.json["referral_id"] == referral.id
    assert first.json["reward"]["amount"] == 1000 and first.json["reward"]["status"] == "held"
    again = api.post("/api/v1/sales", json=payload)
    assert again.status_code == 200 and again.json == first.json


def test_the_same_sale_reported_twice_at_once_is_stored_and_rewarded_once(postgres, api_as):
    factories.program(min_sale_amount=1000)
    referral = factories.referral(email="buyer@example.com", created_at=utcnow() - timedelta(days=1))
    api = api_as("coordinator")
    payload = body(occurred_at=utcnow().isoformat())
    barrier, answers = threading.Barrier(2), []

    def report():
        with postgres.test_client() as client:
            barrier.wait()
            answers.append(client.post("/api/v1/sales", json=payload, headers=api.headers))

    threads = [threading.Thread(target=report) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [200, 201]
    assert answers[0].json == answers[1].json and answers[0].json["referral_id"] == referral.id
    assert db.session.scalar(db.select(db.func.count()).select_from(Sale)) == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(Reward)) == 1


@pytest.mark.parametrize("overrides, field", [
    ({"amount": 12.5}, "amount"), ({"amount": -1}, "amount"), ({"currency": "USD"}, "currency"),
    ({"occurred_at": "2026-03-01T10:00:00"}, "occurred_at"), ({"email": "nope"}, "email"),
    ({"phone": "12"}, "phone"), ({"surprise": 1}, "surprise"),
])
def test_bad_sales_are_422_naming_the_field(api_as, overrides, field):
    r = api_as("coordinator").post("/api/v1/sales", json=body(**overrides))
    assert r.status_code == 422, r.json
    assert field in r.json["errors"] or field in str(r.json["errors"])


@pytest.mark.parametrize("role, status", [("finance", 403), ("customer", 403), ("admin", 201)])
def test_who_may_report_sales(api_as, role, status):
    assert api_as(role).post("/api/v1/sales", json=body()).status_code == status


def test_refunds_are_idempotent_and_adjust_the_reward(api_as):
    factories.program(reward_type="percent", amount=None, percent=10, min_sale_amount=1000)
    referral = factories.referral(email="buyer@example.com", created_at=utcnow() - timedelta(days=1))
    api = api_as("coordinator")
    sale = api.post("/api/v1/sales", json=body(occurred_at=utcnow().isoformat()))
    assert sale.json["reward"]["amount"] == 500 and sale.json["referral_id"] == referral.id
    partial = api.post("/api/v1/sales/order-1/refunds", json={"external_id": "rf-1", "amount": 2000})
    assert partial.status_code == 201 and partial.json["sale_id"] == sale.json["id"]
    assert api.post("/api/v1/sales/order-1/refunds", json={"external_id": "rf-1", "amount": 2000}).status_code == 200
    assert api.post("/api/v1/sales/order-1/refunds", json={"external_id": "rf-1", "amount": 1}).status_code == 409
    too_much = api.post("/api/v1/sales/order-1/refunds", json={"external_id": "rf-2", "amount": 3001})
    assert too_much.status_code == 422
    reward = db.session.scalar(db.select(Reward))
    assert reward.amount == 300 and reward.status == "held"
    api.post("/api/v1/sales/order-1/refunds", json={"external_id": "rf-3", "amount": 3000})
    db.session.refresh(reward)
    assert reward.status == "reversed"


def test_a_refund_before_its_sale_is_kept_and_applied_when_the_sale_lands(api_as):
    factories.program(min_sale_amount=1000)
    referral = factories.referral(email="buyer@example.com", created_at=utcnow() - timedelta(days=1))
    api = api_as("coordinator")
    early = api.post("/api/v1/sales/order-1/refunds", json={"external_id": "rf-1", "amount": 4500})
    assert early.status_code == 201 and early.json["sale_id"] is None
    sale = api.post("/api/v1/sales", json=body(occurred_at=utcnow().isoformat()))
    assert db.session.scalar(db.select(Refund)).sale_id == sale.json["id"]
    # Net of the refund the sale is 5.00 USD, below the minimum: it proves nothing.
    assert sale.json["referral_id"] is None
    detail = api.get(f"/api/v1/referrals/{referral.id}").json
    assert detail["status"] == "pending"
    check = {c["name"]: c for c in detail["decision"]["checks"]}["minimum_amount"]
    assert "(net of refunds) of 5.00 USD is below" in check["detail"]
