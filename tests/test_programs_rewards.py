"""Rewards computed by the program version in force: exact amounts, caps, tiers, refunds and debts."""
from datetime import datetime, timedelta, timezone

import pytest

from rewards.extensions import db
from rewards.ledger.balances import customer_balances
from rewards.ledger.check import check_ledger
from rewards.ledger.payouts import batch_payable, confirm_paid
from rewards.programs.granting import grant_reward
from tests import factories

MARCH = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
LATER = datetime(2027, 6, 1, tzinfo=timezone.utc)  # every 2026 reward is out of its hold by then


@pytest.fixture
def referrer(app):
    return factories.customer()


def balance_of(customer, currency="usd"):
    return next(b for b in customer_balances(customer.id) if b.currency == currency).as_dict()


@pytest.mark.parametrize("percent, sale_amount, expected", [
    ("12.5", 1004, 126),   # 125.5 → 126 (half to even)
    ("12.5", 1012, 126),   # 126.5 → 126 (half to even)
    ("10", 12345, 1234),   # 1234.5 → 1234
    ("10", 12355, 1236),   # 1235.5 → 1236
    ("3.3333", 10000, 333),
])
def test_percent_rewards_round_half_even(referrer, percent, sale_amount, expected):
    factories.program(reward_type="percent", percent=percent)
    reward = factories.rewarded_sale(referrer, amount=sale_amount)
    assert reward.amount == expected
    assert check_ledger() == []


def test_maximum_reward_per_referral_caps_a_percent(referrer):
    factories.program(reward_type="percent", percent="20", max_reward_amount=1500)
    assert factories.rewarded_sale(referrer, amount=5000).amount == 1000
    assert factories.rewarded_sale(referrer, amount=50000).amount == 1500


def test_minimum_sale_earns_nothing_below_it(referrer):
    factories.program(amount=1000, min_sale_amount=2000)
    assert factories.rewarded_sale(referrer, amount=1999) is None
    assert factories.rewarded_sale(referrer, amount=2000).amount == 1000


def test_yearly_cap_per_referrer_cuts_the_last_reward_and_resets_next_year(referrer):
    factories.program(amount=1000, yearly_cap_amount=2500)
    amounts = [factories.rewarded_sale(referrer, occurred_at=MARCH + timedelta(days=i)).amount for i in range(4)]
    assert amounts == [1000, 1000, 500, 0]
    other = factories.customer()
    assert factories.rewarded_sale(other, occurred_at=MARCH).amount == 1000
    next_year = factories.rewarded_sale(referrer, occurred_at=datetime(2027, 1, 2, tzinfo=timezone.utc))
    assert next_year.amount == 1000
    assert balance_of(referrer)["held"] + balance_of(referrer)["payable"] == 3500
    assert check_ledger() == []


def test_tiers_apply_from_the_nth_qualified_referral_of_a_calendar_year(referrer):
    factories.program(amount=1000, tiers=[{"from_referral": 3, "amount": 1500},
                                          {"from_referral": 5, "percent": "20"}])
    amounts = [factories.rewarded_sale(referrer, amount=10000, occurred_at=MARCH + timedelta(days=i)).amount
               for i in range(6)]
    assert amounts == [1000, 1000, 1500, 1500, 2000, 2000]
    january = factories.rewarded_sale(referrer, occurred_at=datetime(2027, 1, 5, tzinfo=timezone.utc))
    assert january.amount == 1000 and january.tier_from_referral is None


def test_a_reversed_reward_does_not_count_towards_tiers(referrer):
    factories.program(amount=1000, tiers=[{"from_referral": 2, "amount": 3000}])
    first = factories.rewarded_sale(referrer)
    factories.refund(first.sale, first.sale.amount)
    assert first.status == "reversed"
    assert factories.rewarded_sale(referrer).amount == 1000


def test_zero_decimal_currency(referrer):
    factories.program(currency="jpy", reward_type="percent", percent="7.5", max_reward_amount=2000)
    reward = factories.rewarded_sale(referrer, amount=1234, currency="jpy")
    assert reward.amount == 93  # ¥92.55 → ¥93: yen have no minor unit below 1
    assert factories.rewarded_sale(referrer, amount=100000, currency="jpy").amount == 2000
    assert [b.currency for b in customer_balances(referrer.id)] == ["jpy"]


def test_sale_is_rewarded_by_the_version_in_force_when_it_happened(referrer):
    v1 = factories.program(amount=1000, effective_from=datetime(2026, 1, 1, tzinfo=timezone.utc))
    v2 = factories.program(amount=2500, effective_from=datetime(2026, 6, 1, tzinfo=timezone.utc))
    before = factories.rewarded_sale(referrer, occurred_at=datetime(2026, 5, 31, 23, 59, tzinfo=timezone.utc))
    after = factories.rewarded_sale(referrer, occurred_at=datetime(2026, 6, 1, tzinfo=timezone.utc))
    assert (before.program_id, before.amount) == (v1.id, 1000)
    assert (after.program_id, after.amount) == (v2.id, 2500)
    assert (v1.version, v2.version) == (1, 2)
    assert factories.rewarded_sale(referrer, occurred_at=datetime(2025, 12, 31, tzinfo=timezone.utc)) is None


def test_grant_is_idempotent_and_records_the_referee_reward(referrer):
    factories.program(amount=1000, hold_days=14, referee_coupon_code="WELCOME10", referee_credit_amount=500)
    reward = factories.rewarded_sale(referrer)
    again = grant_reward(reward.referral, reward.sale)
    db.session.commit()
    assert again.id == reward.id
    assert reward.payable_at == MARCH + timedelta(days=14)
    assert (reward.referee_coupon_code, reward.referee_credit_amount) == ("WELCOME10", 500)
    assert balance_of(referrer)["payable"] == 1000  # the hold of a March 2026 sale has ended
    assert check_ledger() == []


def test_partial_refund_reduces_a_percent_reward_on_the_net_sale(referrer):
    factories.program(reward_type="percent", percent="12.5", min_sale_amount=3000)
    reward = factories.rewarded_sale(referrer, amount=10000)
    assert reward.amount == 1250
    factories.refund(reward.sale, 2500)
    assert (reward.amount, reward.status, reward.granted_amount) == (938, "held", 1250)  # 937.5 → 938
    factories.refund(reward.sale, 2500)
    assert reward.amount == 625
    factories.refund(reward.sale, 2001)  # net 2999 is below the minimum sale
    assert (reward.amount, reward.status) == (625, "reversed")
    assert balance_of(referrer)["payable"] == 0
    assert check_ledger() == []


def test_refund_after_payout_leaves_a_debt_the_next_payout_nets_off(referrer):
    factories.program(amount=1000)
    first = factories.rewarded_sale(referrer, amount=10000)
    batch = batch_payable(referrer.id, "usd", at=LATER)
    confirm_paid(batch.transaction.id, batch.net)
    db.session.commit()
    assert (batch.net, first.status) == (1000, "paid")

    factories.refund(first.sale, 10000)
    assert (first.status, first.clawback_amount) == ("paid", 1000)
    assert balance_of(referrer) == {"currency": "usd", "earned": 1000, "held": 0, "payable": 0, "batched": 0,
                                    "paid": 1000, "reversed": 1000, "owed": 1000}
    assert check_ledger() == []

    factories.rewarded_sale(referrer, occurred_at=MARCH + timedelta(days=1))
    factories.rewarded_sale(referrer, occurred_at=MARCH + timedelta(days=2))
    second = batch_payable(referrer.id, "usd", at=LATER)
    assert (second.gross, second.netted, second.net) == (2000, 1000, 1000)
    confirm_paid(second.transaction.id, second.net)
    db.session.commit()
    assert balance_of(referrer) == {"currency": "usd", "earned": 3000, "held": 0, "payable": 0, "batched": 0,
                                    "paid": 2000, "reversed": 1000, "owed": 0}
    assert check_ledger() == []


def test_a_debt_larger_than_the_next_payout_is_never_a_negative_transfer(referrer):
    factories.program(reward_type="percent", percent="10")
    big = factories.rewarded_sale(referrer, amount=50000)
    batch = batch_payable(referrer.id, "usd", at=LATER)
    confirm_paid(batch.transaction.id, batch.net)
    factories.refund(big.sale, 50000)
    factories.rewarded_sale(referrer, amount=20000)
    nothing_to_send = batch_payable(referrer.id, "usd", at=LATER)
    assert (nothing_to_send.gross, nothing_to_send.netted, nothing_to_send.net) == (2000, 2000, 0)
    confirm_paid(nothing_to_send.transaction.id, 0)
    db.session.commit()
    assert balance_of(referrer)["owed"] == 3000
    assert check_ledger() == []


def test_refund_of_a_batched_reward_is_a_debt_not_an_edit_of_the_batch(referrer):
    factories.program(amount=1000)
    reward = factories.rewarded_sale(referrer, amount=10000)
    batch = batch_payable(referrer.id, "usd", at=LATER)
    db.session.commit()
    factories.refund(reward.sale, 10000)
    assert (reward.status, reward.amount, reward.clawback_amount) == ("batched", 1000, 1000)
    assert balance_of(referrer)["batched"] == batch.net == 1000
    assert balance_of(referrer)["owed"] == 1000
    assert check_ledger() == []
