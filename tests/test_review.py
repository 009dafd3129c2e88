"""Review queue: flagged referrals decided by a coordinator (API and page); expiry; re-validation."""
from datetime import timedelta

import pytest

from rewards import bulk
from rewards.audit.models import AuditEvent
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.programs.models import Reward
from rewards.referrals.models import Referral
from rewards.sales.models import Decision, Sale
from rewards.tasks.models import Task
from tests import factories
from tests.conftest import csrf_token


@pytest.fixture
def flagged(app):
    """A referral in review: the buyer paid with the referrer's own card."""
    factories.program(min_sale_amount=1000)
    referrer = factories.customer(email="rita@example.com")
    referral = factories.referral(referrer, email="frank@example.com", created_at=utcnow() - timedelta(days=2))
    for external_id, email, when in (("rita-own", "rita@example.com", utcnow() - timedelta(days=50)),
                                     ("frank-1", "frank@example.com", utcnow())):
        db.session.add(Sale(external_id=external_id, email=email, amount=5000, currency="usd", occurred_at=when,
                            payment_fingerprint="card-rita", source="api"))
    db.session.commit()
    from rewards.sales.validation import revalidate
    revalidate()
    db.session.commit()
    assert db.session.get(Referral, referral.id).status == "review"
    return referral


def test_coordinator_approves_by_api_and_the_reward_is_granted(api_as, flagged):
    api = api_as("coordinator")
    r = api.post(f"/api/v1/referrals/{flagged.id}/approve")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "qualified"
    assert r.json["decision"]["outcome"] == "qualified" and r.json["decision"]["decided_by"] == api.user.email
    assert db.session.scalar(db.select(Reward)).referral_id == flagged.id
    assert api.post(f"/api/v1/referrals/{flagged.id}/approve").status_code == 409
    assert api.post(f"/api/v1/referrals/{flagged.id}/reject", json={"reason": "x"}).status_code == 409


def test_coordinator_rejects_with_a_reason(api_as, flagged):
    api = api_as("coordinator")
    assert api.post(f"/api/v1/referrals/{flagged.id}/reject", json={}).status_code == 422
    r = api.post(f"/api/v1/referrals/{flagged.id}/reject", json={"reason": "Same household card."})
    assert r.status_code == 200
    assert r.json["status"] == "rejected" and r.json["decision"]["reason"] == "Same household card."
    assert db.session.scalar(db.select(Reward)) is None
    actions = db.session.scalars(db.select(AuditEvent.action).where(AuditEvent.entity_id == flagged.id)).all()
    assert "referral.review" in actions and "referral.rejected" in actions


@pytest.mark.parametrize("role, status", [("finance", 403), ("customer", 403)])
def test_only_coordinators_decide(api_as, flagged, role, status):
    assert api_as(role).post(f"/api/v1/referrals/{flagged.id}/approve").status_code == status
    assert api_as("coordinator").post("/api/v1/referrals/999999/approve").status_code == 404


def test_pending_referral_cannot_be_approved(api_as, app):
    referral = factories.referral()
    assert api_as("coordinator").post(f"/api/v1/referrals/{referral.id}/approve").status_code == 409


def test_review_page_lists_checks_and_decides_through_csrf_forms(client, login_as, flagged):
    login_as("coordinator")
    page = client.get("/admin/review").get_data(as_text=True)
    assert f"Referral #{flagged.id}" in page and "same payment fingerprint" in page
    token = csrf_token(page)
    assert client.post(f"/admin/review/{flagged.id}/reject", data={"reason": "x"}).status_code == 400
    r = client.post(f"/admin/review/{flagged.id}/reject", data={"reason": "Looks like one person.",
                                                                "csrf_token": token})
    assert r.status_code == 302
    assert db.session.get(Referral, flagged.id).status == "rejected"
    decision = db.session.scalar(db.select(Decision).order_by(Decision.id.desc()))
    assert decision.reason == "Looks like one person." and decision.decided_by_id is not None
    assert "Nothing to review." in client.get("/admin/review").get_data(as_text=True)


def test_review_page_approve(client, login_as, flagged):
    login_as("coordinator")
    token = csrf_token(client.get("/admin/review").get_data(as_text=True))
    client.post(f"/admin/review/{flagged.id}/approve", data={"csrf_token": token})
    assert db.session.get(Referral, flagged.id).status == "qualified"


def test_review_page_is_for_coordinators(client, login_as, app):
    login_as("finance")
    assert client.get("/admin/review").status_code == 403


def test_expire_cli_and_task(runner, app):
    factories.program(attribution_days=30)
    old = factories.referral(created_at=utcnow() - timedelta(days=31))
    fresh = factories.referral(created_at=utcnow() - timedelta(days=29))
    decided = factories.referral(created_at=utcnow() - timedelta(days=40), status="qualified")
    result = runner.invoke(args=["referrals", "expire"])
    assert result.exit_code == 0 and "Expired 1 referral." in result.output
    db.session.expire_all()
    assert [db.session.get(Referral, r.id).status for r in (old, fresh, decided)] == \
        ["expired", "pending", "qualified"]
    from rewards.sales.tasks import expire_referrals_task
    from rewards.extensions import celery
    assert expire_referrals_task.delay().result == 0
    assert celery.conf.beat_schedule["expire-referrals"]["task"] == "rewards.sales.expire_referrals"


@pytest.mark.parametrize("copy_from", [1, bulk.COPY_FROM])  # rows written by COPY (PostgreSQL) and by INSERT
def test_revalidate_cli_reweighs_pending_referrals_after_a_program_change(runner, app, monkeypatch, copy_from):
    monkeypatch.setattr(bulk, "COPY_FROM", copy_from)
    referral = factories.referral(email="frank@example.com", created_at=utcnow() - timedelta(days=2))
    db.session.add(Sale(external_id="s1", email="frank@example.com", amount=5000, currency="usd",
                        occurred_at=utcnow(), source="csv"))
    db.session.commit()
    first = runner.invoke(args=["referrals", "revalidate"])
    assert first.exit_code == 0 and "qualified 0" in first.output and "pending 1" in first.output
    factories.program(effective_from=utcnow() - timedelta(days=10))
    second = runner.invoke(args=["referrals", "revalidate"])
    assert "qualified 1" in second.output and "rewards granted 1" in second.output, second.output
    db.session.expire_all()
    assert db.session.get(Referral, referral.id).status == "qualified"
    assert db.session.scalar(db.select(Sale)).referral_id == referral.id
    assert "qualified 0" in runner.invoke(args=["referrals", "revalidate"]).output
    # A pending verdict is written once per sale, not once per run.
    assert db.session.scalar(db.select(db.func.count()).select_from(Decision)) == 2
    assert [c["name"] for c in db.session.scalar(db.select(Decision).order_by(Decision.id.desc())).checks] == [
        "buyer_matches_referee", "attribution_window", "new_buyer", "minimum_amount", "not_self_referral",
        "earliest_referral"]
    assert runner.invoke(args=["ledger", "check"]).exit_code == 0



def _more_flagged(referrer, n: int) -> list[Referral]:
    """n more referrals of the flagged one's referrer, each bought with her card again: in review."""
    from rewards.sales.validation import revalidate

    referrals = [factories.referral(referrer, email=f"friend{i}@example.com", created_at=utcnow() - timedelta(days=2))
                 for i in range(n)]
    for i in range(n):
        db.session.add(Sale(external_id=f"friend-{i}", email=f"friend{i}@example.com", amount=7000, currency="usd",
                            occurred_at=utcnow(), payment_fingerprint="card-rita", source="api"))
    db.session.commit()
    revalidate()
    db.session.commit()
    return referrals


def _review_tasks():
    return {t.referral_id: t.status for t in db.session.scalars(
        db.select(Task).where(Task.auto_key.startswith("review_referral")))}


def test_queue_shows_links_and_the_reward_at_stake(login_as, client, flagged):
    login_as("coordinator")
    page = client.get("/admin/review").get_data(as_text=True)
    assert f'href="/admin/referrals/{flagged.id}"' in page
    assert f'href="/admin/customers/{flagged.referrer_id}"' in page
    assert "frank-1" in page and "50.00 USD" in page
    assert "Approving grants <strong>10.00 USD</strong>" in page


def test_bulk_approval_decides_each_and_closes_their_review_tasks(login_as, client, flagged):
    others = _more_flagged(flagged.referrer, 2)
    assert _review_tasks() == {r.id: "todo" for r in [flagged, *others]}
    login_as("coordinator")
    token = csrf_token(client.get("/admin/review").get_data(as_text=True))
    response = client.post("/admin/review/bulk", data={"csrf_token": token, "action": "approve",
                                                       "referral_ids": [flagged.id, others[0].id]})
    assert response.status_code == 302
    statuses = {r.id: db.session.get(Referral, r.id).status for r in [flagged, *others]}
    assert statuses == {flagged.id: "qualified", others[0].id: "qualified", others[1].id: "review"}
    assert _review_tasks() == {flagged.id: "done", others[0].id: "done", others[1].id: "todo"}
    assert db.session.scalar(db.select(db.func.count(Reward.id))) == 2
    page = client.get("/admin/review").get_data(as_text=True)
    assert "2 referrals approved" in page

    no_reason = client.post("/admin/review/bulk", data={"csrf_token": token, "action": "reject",
                                                        "referral_ids": [others[1].id, flagged.id]})
    assert "Give the reason" in client.get(no_reason.headers["Location"]).get_data(as_text=True)
    client.post("/admin/review/bulk", data={"csrf_token": token, "action": "reject", "reason": "Same card.",
                                            "referral_ids": [others[1].id, flagged.id]})
    assert db.session.get(Referral, others[1].id).status == "rejected"
    assert _review_tasks()[others[1].id] == "done"
    page = client.get("/admin/review").get_data(as_text=True)
    assert "1 referral rejected" in page
    assert f"Referral #{flagged.id} was not rejected" in page  # already qualified: refused, nothing changed
    assert db.session.get(Referral, flagged.id).status == "qualified"


def test_create_a_task_from_a_referral_opens_its_open_automatic_task(login_as, client, flagged):
    login_as("coordinator")
    response = client.get(f"/admin/tasks/new?referral_id={flagged.id}")
    task_id = db.session.scalar(db.select(Task.id).filter_by(auto_key=f"review_referral:referral:{flagged.id}"))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/tasks/{task_id}/edit")


def _decision_text(client, referral_id):
    import re

    html = client.get(f"/admin/referrals/{referral_id}").get_data(as_text=True)
    return re.sub(r"<[^>]+>", "", re.search(r'id="decision-sentence">(.*?)</p>', html, re.S).group(1))


def test_referral_page_decision_agrees_with_status_and_history(login_as, client, flagged):
    coordinator = login_as("coordinator")
    assert _decision_text(client, flagged.id).startswith("Waiting for a coordinator: a check flagged sale frank-1")
    client.post("/admin/review/bulk", data={"csrf_token": csrf_token(client.get("/admin/review").get_data(
        as_text=True)), "action": "approve", "referral_ids": [flagged.id]})
    text = _decision_text(client, flagged.id)
    assert text.startswith(f"Qualified: approved by {coordinator.email} on ") and "sale frank-1 of 50.00 USD" in text
    html = client.get(f"/admin/referrals/{flagged.id}").get_data(as_text=True)
    assert "Sent to review: a check flagged" in html and "Approved after review: qualifies with" in html
    assert f'href="#sale-{db.session.scalar(db.select(Sale.id).filter_by(external_id="frank-1"))}"' in html
    assert "Reward</a> of 10.00 USD granted" in html

    waiting = factories.referral(flagged.referrer, email="nobody@example.com")
    assert _decision_text(client, waiting.id).startswith("Waiting for the referee's first purchase, until ")
