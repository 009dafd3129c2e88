"""The demo data shows payouts in each state: a paid batch, one with a failed item, a draft; safe to run twice."""
from rewards.extensions import db
from rewards.ledger.check import check_ledger
from rewards.payouts.models import PayoutBatch, PayoutItem


def test_seed_demo_has_a_paid_batch_a_failed_item_and_a_draft(runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    statuses = sorted(b.status for b in db.session.scalars(db.select(PayoutBatch)))
    assert statuses == ["draft", "paid", "partially_failed"]
    failed = db.session.scalars(db.select(PayoutItem).filter_by(status="failed")).all()
    assert len(failed) == 1 and failed[0].failure_code == "not_configured"
    assert db.session.scalars(db.select(PayoutItem).filter_by(method="manual")).all()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert db.session.scalar(db.select(db.func.count(PayoutBatch.id))) == 3
    assert check_ledger() == []
