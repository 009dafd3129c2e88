"""What Stripe did counts when Stripe did it: a transfer by its `created`, a reversal by the reversal's `created`,
however late Refero hears of it. A transfer made at 23:59 on Dec 31 and confirmed on Jan 1 is paid in December
(and in that year) in every report: the ledger's figures, referrers.csv, payouts.csv and the journal."""
import types
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from rewards.clock import frozen_at
from rewards.extensions import db
from rewards.ledger.models import LedgerTransaction
from rewards.payouts import service
from rewards.payouts.executor import execute_batch
from rewards.payouts.models import PayoutItem, PayoutReversal
from tests import factories
from tests import fake_stripe as fake_module
from tests import stripe_events as se
from tests.payouts_support import account_row, app_config, fake_stripe, transfer_event, users_of_finance  # noqa: F401
from tests.test_reports import as_dicts, read_csv

UTC = timezone.utc
EARNED = datetime(2025, 12, 1, 9, tzinfo=UTC)
DRAFTED = datetime(2025, 12, 31, 23, 50, tzinfo=UTC)
TRANSFER_CREATED = datetime(2025, 12, 31, 23, 59, tzinfo=UTC)
REVERSAL_CREATED = datetime(2026, 1, 1, 0, 3, tzinfo=UTC)
CONFIRMED = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)


@pytest.fixture
def finance(api_as):
    return api_as("finance")


@pytest.fixture
def batch(app, fake_stripe):
    """An approved batch of one item of 1000 usd, for a reward earned in December 2025 (committed)."""
    with frozen_at(EARNED):
        factories.program(amount=1000)
        referrer = factories.customer(name="Dora December")
        factories.rewarded_sale(referrer, amount=10000, occurred_at=datetime(2025, 10, 1, 12, tzinfo=UTC))
        account_row(fake_stripe, referrer)
    with frozen_at(DRAFTED):
        drafter, approver = users_of_finance()
        batch = service.draft_batch("usd", None, drafter)
        db.session.commit()
        service.approve_batch(batch.id, approver)
        db.session.commit()
    return batch


def paid_in(finance, year: int, customer_id: int) -> int:
    rows = as_dicts(read_csv(finance.get(f"/api/v1/reports/referrers.csv?year={year}")))
    return sum(int(row["paid"]) for row in rows if row["customer_id"] == str(customer_id))


def payout_rows(finance, first: str, last: str) -> list[dict]:
    return as_dicts(read_csv(finance.get("/api/v1/reports/payouts.csv", query_string={"from": first, "to": last})))


def test_a_transfer_made_on_dec_31_and_confirmed_by_webhook_on_jan_1_counts_in_december(client, fake_stripe, batch,
                                                                                        finance):
    [item] = batch.items
    # Stripe made the transfer at 23:59 on Dec 31, but the executor never recorded its answer (it died).
    transfer = fake_stripe.create_transfer({"amount": str(item.amount), "currency": "usd",
                                            "destination": item.destination, "transfer_group": item.transfer_group})
    fake_stripe.transfers[transfer["id"]]["created"] = int(TRANSFER_CREATED.timestamp())
    reversal = fake_stripe.reverse(transfer["id"], 250)
    fake_stripe.transfers[transfer["id"]]["reversals"]["data"][0]["created"] = int(REVERSAL_CREATED.timestamp())
    # Refero hears of it on Jan 1, from the transfer.reversed webhook: the transfer was made, and 250 came back.
    event = transfer_event("transfer.reversed", fake_stripe.transfers[transfer["id"]])
    event["created"] = int(REVERSAL_CREATED.timestamp())
    with frozen_at(CONFIRMED), client:  # `with client`: the request runs in this context, so on Jan 1 too
        assert se.deliver(client, event).json["result"] == "processed"
    db.session.expire_all()
    item = db.session.get(PayoutItem, item.id)
    assert (item.status, item.stripe_transfer_id, item.paid_at) == ("paid", transfer["id"], TRANSFER_CREATED)
    settled = db.session.scalar(sa.select(LedgerTransaction).filter_by(kind="paid"))
    assert (settled.created_at, settled.effective_at) == (CONFIRMED, TRANSFER_CREATED)  # recorded Jan 1, paid Dec 31
    taken_back = db.session.scalar(sa.select(LedgerTransaction).filter_by(kind="transfer_reversal"))
    assert (taken_back.created_at, taken_back.effective_at) == (CONFIRMED, REVERSAL_CREATED)
    assert db.session.scalar(sa.select(PayoutReversal.reversed_at)) == REVERSAL_CREATED
    assert reversal["amount"] == 250

    # The year and the period it counts in: the transfer in 2025 (December), the reversal in 2026 (January).
    assert paid_in(finance, 2025, item.customer_id) == 1000
    assert paid_in(finance, 2026, item.customer_id) == -250
    december = payout_rows(finance, "2025-12-01", "2025-12-31")
    assert [(row["paid_at"], row["item_id"], row["amount"], row["stripe_transfer_id"]) for row in december] == [
        ("2025-12-31T23:59:00Z", str(item.id), "1000", transfer["id"])]
    january = payout_rows(finance, "2026-01-01", "2026-01-31")
    assert [(row["paid_at"], row["item_id"], row["amount"]) for row in january] == [
        ("2026-01-01T00:03:00Z", str(item.id), "-250")]
    journal = as_dicts(read_csv(finance.get("/api/v1/reports/journal.csv?from=2025-12-31&to=2025-12-31")))
    paid_legs = [row for row in journal if row["kind"] == "paid"]
    assert [(row["posted_at"], row["debit"], row["credit"]) for row in paid_legs] == [
        ("2025-12-31T23:59:00Z", "1000", ""), ("2025-12-31T23:59:00Z", "", "1000")]
    assert not [row for row in as_dicts(read_csv(finance.get(
        "/api/v1/reports/journal.csv?from=2026-01-01&to=2026-01-01"))) if row["kind"] == "paid"]


def test_a_transfer_answered_after_midnight_counts_when_stripe_made_it(fake_stripe, batch, finance, monkeypatch):
    [item] = batch.items
    # Stripe's clock says 23:59 on Dec 31 when it makes the transfer; its answer is recorded at 00:05 on Jan 1.
    monkeypatch.setattr(fake_module, "time", types.SimpleNamespace(
        time=lambda: TRANSFER_CREATED.timestamp(), sleep=fake_module.time.sleep, monotonic=fake_module.time.monotonic))
    with frozen_at(CONFIRMED):
        assert execute_batch(batch.id)["status"] == "paid"
    db.session.expire_all()
    item = db.session.get(PayoutItem, item.id)
    assert (item.status, item.paid_at) == ("paid", TRANSFER_CREATED)
    settled = db.session.scalar(sa.select(LedgerTransaction).filter_by(kind="paid"))
    assert (settled.created_at, settled.effective_at) == (CONFIRMED, TRANSFER_CREATED)
    assert (paid_in(finance, 2025, item.customer_id), paid_in(finance, 2026, item.customer_id)) == (1000, 0)
    assert [row["paid_at"] for row in payout_rows(finance, "2025-12-31", "2025-12-31")] == ["2025-12-31T23:59:00Z"]


def test_a_payment_by_hand_counts_when_finance_records_it(fake_stripe, batch, finance):
    [item] = batch.items
    fake_stripe.set_ready(item.destination, False)  # Stripe refuses the transfer: finance pays by hand on Jan 1
    with frozen_at(CONFIRMED):
        execute_batch(batch.id)
        assert db.session.get(PayoutItem, item.id).status == "failed"
        service.mark_paid_manually(batch.id, item.id, "bank transfer 7", factories.user(role="finance"))
        db.session.commit()
    db.session.expire_all()
    assert db.session.get(PayoutItem, item.id).paid_at == CONFIRMED
    assert (paid_in(finance, 2025, item.customer_id), paid_in(finance, 2026, item.customer_id)) == (0, 1000)
