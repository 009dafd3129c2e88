"""Stripe's events for payouts: `transfer.reversed` moves reversed money back once, however the events arrive;
`account.updated` (from the Connect endpoint, its own secret) keeps readiness current and ignores older news."""
import time

import pytest

from rewards.extensions import db
from rewards.ledger.balances import customer_balances
from rewards.ledger.check import check_ledger
from rewards.payouts import service
from rewards.payouts.executor import execute_batch
from rewards.payouts.models import PayoutAccount, PayoutItem, PayoutReversal
from tests import factories
from tests import stripe_events as se
from tests.payouts_support import (account_event, app_config, approved_batch, deliver_connect, fake_stripe,  # noqa: F401
                                   transfer_event, users_of_finance)


def money(customer_id):
    row = next(b.as_dict() for b in customer_balances(customer_id) if b.currency == "usd")
    return row["payable"], row["paid"]


@pytest.fixture
def paid_item(fake_stripe):
    batch = approved_batch(fake_stripe, referrers=1, amount=1000)
    execute_batch(batch.id)
    item = db.session.scalar(db.select(PayoutItem).filter_by(batch_id=batch.id))
    assert item.status == "paid"
    return item


def reversed_event(fake, item, amount):
    fake.reverse(item.stripe_transfer_id, amount)
    return transfer_event("transfer.reversed", fake.transfers[item.stripe_transfer_id])


def test_a_reversal_moves_money_back_once_replayed_or_reordered(client, fake_stripe, paid_item):
    customer_id = paid_item.customer_id
    assert money(customer_id) == (0, 1000)
    first = reversed_event(fake_stripe, paid_item, 300)      # amount_reversed 300
    second = reversed_event(fake_stripe, paid_item, 200)     # amount_reversed 500
    assert se.deliver(client, second).json["result"] == "processed"
    assert money(customer_id) == (500, 500)
    assert se.deliver(client, first).json["result"] == "processed"   # older news, arriving late: nothing more
    assert se.deliver(client, second).json["result"] == "replay"
    resent = transfer_event("transfer.reversed", second["data"]["object"])  # the same news under a new event id
    assert se.deliver(client, resent).status_code == 200
    assert money(customer_id) == (500, 500)
    db.session.expire_all()
    assert db.session.get(PayoutItem, paid_item.id).reversed_amount == 500
    assert [r.amount for r in db.session.scalars(db.select(PayoutReversal))] == [500]
    assert check_ledger() == []


def test_in_order_reversals_each_move_their_own_part(client, fake_stripe, paid_item):
    se.deliver(client, reversed_event(fake_stripe, paid_item, 300))
    se.deliver(client, reversed_event(fake_stripe, paid_item, 700))
    assert money(paid_item.customer_id) == (1000, 0)
    assert sorted(r.amount for r in db.session.scalars(db.select(PayoutReversal))) == [300, 700]
    assert check_ledger() == []


def test_a_reversal_is_capped_at_what_the_item_paid(client, fake_stripe, paid_item):
    transfer = dict(fake_stripe.transfers[paid_item.stripe_transfer_id], amount_reversed=5000, reversed=True)
    se.deliver(client, transfer_event("transfer.reversed", transfer))
    assert money(paid_item.customer_id) == (1000, 0)
    assert check_ledger() == []


def test_transfers_refero_did_not_make_are_ignored(client, fake_stripe, paid_item):
    stranger = fake_stripe.create_transfer({"amount": "700", "currency": "usd",
                                            "destination": paid_item.destination, "transfer_group": "not-ours"})
    fake_stripe.reverse(stranger["id"], 700)
    r = se.deliver(client, transfer_event("transfer.reversed", fake_stripe.transfers[stranger["id"]]))
    assert r.status_code == 200
    assert money(paid_item.customer_id) == (0, 1000)
    assert db.session.scalars(db.select(PayoutReversal)).all() == []


def test_reversed_money_is_paid_again_in_the_next_batch(client, fake_stripe, paid_item):
    se.deliver(client, reversed_event(fake_stripe, paid_item, 400))
    _, approver = users_of_finance()
    drafter = factories.user(role="finance")
    batch = service.draft_batch("usd", 100, drafter)
    db.session.commit()
    assert [(i.customer_id, i.amount) for i in batch.items] == [(paid_item.customer_id, 400)]
    service.approve_batch(batch.id, approver)
    db.session.commit()
    assert execute_batch(batch.id)["status"] == "paid"
    assert money(paid_item.customer_id) == (0, 1000)
    assert check_ledger() == []


def test_a_reversal_of_a_transfer_whose_answer_was_lost_settles_it_first(client, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=1, amount=1000)
    [item] = batch.items
    # Stripe made the transfer, but the executor never recorded the answer (it died): the item is pending.
    transfer = fake_stripe.create_transfer({"amount": str(item.amount), "currency": "usd",
                                            "destination": item.destination, "transfer_group": item.transfer_group})
    fake_stripe.reverse(transfer["id"], 250)
    se.deliver(client, transfer_event("transfer.reversed", fake_stripe.transfers[transfer["id"]]))
    db.session.expire_all()
    item = db.session.get(PayoutItem, item.id)
    assert (item.status, item.stripe_transfer_id, item.reversed_amount) == ("paid", transfer["id"], 250)
    assert money(item.customer_id) == (250, 750)
    assert execute_batch(batch.id)["status"] == "paid"
    assert len(fake_stripe.transfers_made()) == 1
    assert check_ledger() == []


def readiness(customer_id):
    db.session.expire_all()
    return db.session.scalar(db.select(PayoutAccount).filter_by(customer_id=customer_id)).ready


def test_account_updated_keeps_readiness_current_and_ignores_older_events(client, fake_stripe):
    from tests.payouts_support import account_row

    customer = factories.customer()
    account = account_row(fake_stripe, customer, ready=False)
    now = int(time.time()) + 5
    ready = fake_stripe.set_ready(account.stripe_account_id, True)
    assert deliver_connect(client, account_event(ready, created=now)).json["result"] == "processed"
    assert readiness(customer.id) is True
    stale = fake_stripe.set_ready(account.stripe_account_id, False)
    assert deliver_connect(client, account_event(stale, created=now - 60)).status_code == 200
    assert readiness(customer.id) is True  # older than what is stored: ignored
    assert deliver_connect(client, account_event(stale, created=now + 60)).status_code == 200
    assert readiness(customer.id) is False
    stored = db.session.scalar(db.select(PayoutAccount).filter_by(customer_id=customer.id))
    assert stored.requirements_due == ["external_account", "tos_acceptance.date"]


def test_the_webhook_accepts_either_secret_and_refuses_others(client, fake_stripe):
    unknown = fake_stripe.add_account(ready=True)
    assert se.deliver(client, account_event(unknown)).status_code == 200          # platform secret
    assert deliver_connect(client, account_event(unknown)).status_code == 200      # Connect secret
    assert se.deliver(client, account_event(unknown), "whsec_someone_else").status_code == 400
    assert db.session.scalars(db.select(PayoutAccount)).all() == []                # not ours: ignored
