"""The one balance read model: per referrer, many at once and summed, and how its figures add up."""
from datetime import datetime, timezone

import pytest

from rewards.extensions import db
from rewards.ledger.balances import Balance, balance_totals, balances, customer_balances
from rewards.ledger.payouts import batch_payable, confirm_paid, payable_summary, reverse_transfer
from tests import factories

LATER = datetime(2027, 6, 1, tzinfo=timezone.utc)


@pytest.fixture
def two_referrers(app):
    factories.program(amount=1000)
    factories.program(currency="eur", amount=700)
    rita, sam = factories.customer(), factories.customer()
    paid = factories.rewarded_sale(rita)
    batch = batch_payable(rita.id, "usd", at=LATER)
    confirm_paid(batch.transaction.id, batch.net)
    reverse_transfer(rita.id, "usd", 250, idempotency_key="transfer_reversal:trr_b1")
    factories.refund(paid.sale, paid.sale.amount)  # owes 1000
    factories.rewarded_sale(rita)
    factories.rewarded_sale(rita, currency="eur")
    batch_payable(rita.id, "eur", at=LATER)
    factories.rewarded_sale(sam, occurred_at=datetime(2027, 5, 30, tzinfo=timezone.utc))  # held until June 29
    db.session.commit()
    return rita, sam


def test_a_referrers_figures_per_currency(two_referrers):
    rita, _ = two_referrers
    eur, usd = customer_balances(rita.id, at=LATER)  # by currency
    assert usd == Balance("usd", earned=2000, held=0, payable=1250, batched=0, paid=750, reversed=1000, owed=1000)
    assert eur == Balance("eur", earned=700, held=0, payable=0, batched=700, paid=0, reversed=0, owed=0)
    assert usd.payable == payable_summary(rita.id, "usd", at=LATER).gross


def test_many_at_once_equal_one_by_one_and_totals_are_their_sums(two_referrers):
    rita, sam = two_referrers
    many = balances([rita.id, sam.id], at=LATER)
    assert many == {rita.id: customer_balances(rita.id, at=LATER), sam.id: customer_balances(sam.id, at=LATER)}
    assert many[sam.id] == [Balance("usd", earned=1000, held=1000)]
    totals = {b.currency: b for b in balance_totals(at=LATER)}
    for currency, total in totals.items():
        mine = [b for rows in many.values() for b in rows if b.currency == currency]
        assert total.as_dict() == {field: currency if field == "currency" else sum(getattr(b, field) for b in mine)
                                   for field in total.as_dict()}
    for rows in many.values():
        for b in rows:
            assert b.held + b.payable + b.batched + b.paid - b.owed == b.earned - b.reversed


def test_a_customer_without_rewards_has_no_balance(app):
    assert customer_balances(factories.customer().id) == []
