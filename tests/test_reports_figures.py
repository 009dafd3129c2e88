"""Property: for every referrer of a random history (rewards, refunds before and after payout, batches settled or
released, transfer reversals, postings spread over three years), the yearly figures of referrers.csv, added up over
the years, are the one balance model's (rewards.ledger.balances) earned, reversed and paid, and earned − reversed −
paid is what the referrer's earned, debt and in-transit accounts hold; each year's statement shows the same totals."""
import csv
import io
from collections import defaultdict
from datetime import datetime, timezone

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rewards.extensions import db
from rewards.ledger.models import LedgerTransaction, Reward
from rewards.ledger.payouts import batch_payable, confirm_paid, release_batch, reverse_transfer
from rewards.ledger.balances import customer_balances
from rewards.ledger.service import referrer_balances
from rewards.reports import statements
from tests import factories, finance_data
from tests.conftest import _empty_all_tables

YEARS = (2024, 2025, 2026)
LATER = datetime(2100, 1, 1, tzinfo=timezone.utc)

steps = st.lists(st.one_of(
    st.tuples(st.just("sale"), st.integers(0, 2), st.sampled_from(("usd", "usd", "jpy")), st.integers(1000, 90000)),
    st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 100)),
    st.tuples(st.just("batch"), st.integers(0, 2), st.sampled_from(("usd", "jpy")), st.sampled_from(("pay", "release", "keep"))),
    st.tuples(st.just("reversal"), st.integers(0, 2), st.sampled_from(("usd", "jpy")), st.integers(1, 100)),
), min_size=1, max_size=14)
times = st.lists(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31, 23, 59),
                              timezones=st.just(timezone.utc)), min_size=60, max_size=60)


def _apply(step, referrers, paid, keys):
    kind = step[0]
    if kind == "sale":
        factories.rewarded_sale(referrers[step[1]], amount=step[3], currency=step[2])
        db.session.commit()
    elif kind == "refund":
        rewards = db.session.scalars(sa.select(Reward).where(Reward.status != "reversed").order_by(Reward.id)).all()
        if rewards:
            sale = rewards[step[1] % len(rewards)].sale
            left = sale.amount - sum(r.amount for r in sale.refunds)
            if left > 0:
                factories.refund(sale, max(1, left * step[2] // 100))
    elif kind == "batch":
        customer, currency = referrers[step[1]].id, step[2]
        keys[0] += 1
        batched = batch_payable(customer, currency, at=LATER, idempotency_key=f"batch:test-{keys[0]}")
        if batched is not None and step[3] == "pay":
            confirm_paid(batched.transaction.id, batched.net)
            paid[(customer, currency)] += batched.net
        elif batched is not None and step[3] == "release":
            release_batch(batched.transaction.id)
        db.session.commit()
    else:
        customer, currency = referrers[step[1]].id, step[2]
        amount = paid[(customer, currency)] * step[3] // 100
        if amount > 0:
            keys[0] += 1
            reverse_transfer(customer, currency, amount, idempotency_key=f"transfer_reversal:tr_test{keys[0]}:to:1")
            db.session.commit()
            paid[(customer, currency)] -= amount


def _csv(response):
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


# Every kind of posting at least once, across a year end: earn, reduce, reverse, batch, paid, release, clawback
# (a refund after payout), transfer reversal.
EVERY_KIND = [("sale", 0, "usd", 10000), ("sale", 0, "usd", 20000), ("sale", 1, "jpy", 5000),
              ("sale", 2, "usd", 30000), ("refund", 1, 50), ("refund", 3, 100), ("batch", 0, "usd", "pay"),
              ("batch", 1, "jpy", "release"), ("batch", 1, "jpy", "pay"), ("refund", 0, 100),
              ("reversal", 0, "usd", 40), ("sale", 2, "usd", 9000), ("batch", 2, "usd", "keep")]


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=steps, moments=times)
@example(history=EVERY_KIND, moments=[datetime(2024 + i % 3, 1 + i % 12, 1 + i % 28, tzinfo=timezone.utc)
                                      for i in range(60)])
def test_earned_minus_reversed_minus_paid_is_what_each_referrers_accounts_hold(app, client, api_as, history, moments):
    db.session.remove()
    _empty_all_tables()
    factories.program(currency="usd", reward_type="percent", percent="10")
    factories.program(currency="jpy", amount=500)
    referrers = [factories.customer() for _ in range(3)]
    paid, keys = defaultdict(int), [0]
    for step in history:
        _apply(step, referrers, paid, keys)
    for transaction, moment in zip(db.session.scalars(sa.select(LedgerTransaction).order_by(LedgerTransaction.id))
                                   .all(), moments):
        finance_data.backdate(transaction, moment)  # postings spread over three years
    finance = api_as("finance")
    figures = defaultdict(lambda: [0, 0, 0])
    for year in YEARS:
        for row in _csv(finance.get(f"/api/v1/reports/referrers.csv?year={year}")):
            key = (int(row["customer_id"]), row["currency"])
            for i, name in enumerate(("rewards_earned", "rewards_reversed", "paid")):
                figures[key][i] += int(row[name])
            assert (row["rewards_earned"], row["rewards_reversed"], row["paid"]) != ("0", "0", "0")
            totals = {t.currency: t for t in statements.statement(key[0], year).totals}
            assert [totals[key[1]].rewards_earned, totals[key[1]].rewards_reversed, totals[key[1]].paid] == \
                [int(row["rewards_earned"]), int(row["rewards_reversed"]), int(row["paid"])]
    kinds_posted = set(db.session.scalars(sa.select(LedgerTransaction.kind)))
    if history == EVERY_KIND:
        assert kinds_posted == {"earn", "reduce", "reverse", "batch", "paid", "release", "clawback",
                                "transfer_reversal"}
    for customer in referrers:
        for currency, kinds in referrer_balances(customer.id).items():
            earned, reversed_, paid_figure = figures[(customer.id, currency)]
            owed = kinds["referrer_earned"] + kinds["referrer_debt"] + kinds["payouts_in_transit"]
            assert earned - reversed_ - paid_figure == owed
            assert paid_figure == kinds["paid_out"] == paid[(customer.id, currency)]
        for balance in customer_balances(customer.id):
            assert figures[(customer.id, balance.currency)] == [balance.earned, balance.reversed, balance.paid]
            assert balance.held + balance.payable + balance.batched - balance.owed == \
                balance.earned - balance.reversed - balance.paid
