"""Property-based: random sales, refunds, approvals, program changes and payouts never unbalance the ledger."""
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
import uuid

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, \
    run_state_machine_as_test

from rewards.customers.models import Customer
from rewards.errors import InvalidInput
from rewards.extensions import db
from rewards.ledger.check import check_ledger
from rewards.ledger.models import LedgerEntry
from rewards.ledger.payouts import batch_payable, confirm_paid, reverse_transfer
from rewards.ledger.service import referrer_balances
from rewards.programs.granting import grant_reward, grant_rewards
from rewards.programs.models import Program, Reward
from rewards.programs.rules import year_bounds
from rewards.programs.service import create_program, on_sale_refunded
from rewards.referrals.models import Referral
from rewards.sales.models import Refund, Sale
from tests import factories
from tests.conftest import _empty_all_tables

START = datetime(2025, 6, 1, tzinfo=timezone.utc)  # sales span two year ends, so tiers and caps reset
CURRENCIES = ("usd", "jpy")
currencies = st.sampled_from(("usd", "usd", "usd", "jpy"))  # mostly one, so histories meet
days = st.integers(min_value=0, max_value=760)
percent = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2)
optional_money = st.none() | st.integers(min_value=1, max_value=6000)
refund_share = st.just(100) | st.integers(1, 100)  # full refunds often: a flat reward only shrinks on those


class LedgerMachine(RuleBasedStateMachine):
    runner = None

    def __init__(self):
        super().__init__()
        db.session.remove()
        _empty_all_tables()
        self.referrers = [factories.customer().id for _ in range(2)]
        self.sales: list[int] = []
        self.awaiting_review: list[tuple[int, int]] = []
        self.in_transit: list[tuple[int, str, list[int], int]] = []
        self.paid = defaultdict(int)  # (customer_id, currency) → transferred minus transfers reversed

    @initialize()
    def first_programs(self):
        factories.program(currency="usd", reward_type="percent", percent="10", effective_from=START)
        factories.program(currency="jpy", amount=1000, effective_from=START)

    @rule(currency=currencies, flat=st.booleans(), amount=st.integers(1, 5000), pct=percent,
          min_sale=st.integers(0, 5000), max_reward=optional_money, yearly_cap=st.none() | st.integers(1, 15000),
          tier=st.none() | st.tuples(st.integers(2, 4), st.integers(1, 5000)), day=days)
    def program_change(self, currency, flat, amount, pct, min_sale, max_reward, yearly_cap, tier, day):
        rules = {"name": "p", "currency": currency, "reward_type": "flat" if flat else "percent",
                 "amount": amount if flat else None, "percent": None if flat else pct,
                 "min_sale_amount": min_sale, "max_reward_amount": max_reward, "yearly_cap_amount": yearly_cap,
                 "attribution_days": 30, "hold_days": 30, "effective_from": START + timedelta(days=day),
                 "tiers": [{"from_referral": tier[0], "amount": tier[1]}] if tier else []}
        try:
            create_program(rules)
            db.session.commit()
        except InvalidInput:  # e.g. a flat amount above its own maximum: refused, nothing changes
            db.session.rollback()

    @rule(who=st.integers(0, 1), currency=currencies, amount=st.integers(0, 100000), day=days,
          flagged=st.booleans())
    def referred_sale(self, who, currency, amount, day, flagged):
        referrer = db.session.get(Customer, self.referrers[who])
        referral = factories.referral(referrer, status="review" if flagged else "pending")
        sale = factories.sale(referral, amount=amount, currency=currency, occurred_at=START + timedelta(days=day))
        self.sales.append(sale.id)
        if flagged:
            self.awaiting_review.append((referral.id, sale.id))
        else:
            factories.qualify(referral, sale)

    @rule(sales=st.lists(st.tuples(st.integers(0, 1), currencies, st.integers(0, 100000), days, refund_share),
                         min_size=1, max_size=5))
    def referred_sales_granted_in_bulk(self, sales):
        """A re-validation's bulk grant, some sales already partly refunded: the same as one by one."""
        pairs = []
        for who, currency, amount, day, share in sales:
            referral = factories.referral(db.session.get(Customer, self.referrers[who]), status="qualified")
            sale = factories.sale(referral, amount=amount, currency=currency, occurred_at=START + timedelta(days=day))
            if share < 100 and amount * share // 100 > 0:
                sale.refunds.append(Refund(external_id=f"bulk-re-{sale.id}", amount=amount * share // 100))
            self.sales.append(sale.id)
            pairs.append((referral.id, sale.id))
        db.session.commit()
        savepoint = db.session.begin_nested()
        one_by_one = []
        for referral_id, sale_id in pairs:
            sale = db.session.get(Sale, sale_id)
            reward = grant_reward(db.session.get(Referral, referral_id), sale)
            if reward is not None and sale.refunds:
                on_sale_refunded(sale)
            one_by_one.append(reward and (reward.amount, reward.tier_from_referral, reward.status))
        savepoint.rollback()
        granted = grant_rewards(pairs)
        db.session.commit()
        rewards = [db.session.get(Reward, granted[referral_id]) if granted[referral_id] else None
                   for referral_id, _ in pairs]
        assert [r and (r.amount, r.tier_from_referral, r.status) for r in rewards] == one_by_one

    @precondition(lambda self: self.awaiting_review)
    @rule(pick=st.integers(0, 50), twice=st.booleans())
    def coordinator_approves(self, pick, twice):
        referral_id, sale_id = self.awaiting_review.pop(pick % len(self.awaiting_review))
        referral, sale = db.session.get(Referral, referral_id), db.session.get(Sale, sale_id)
        referral.status = "qualified"
        first = grant_reward(referral, sale)
        if twice:  # a retried approval earns nothing more
            assert grant_reward(referral, sale) is first
        db.session.commit()

    @precondition(lambda self: self.sales)
    @rule(pick=st.integers(0, 50), share=refund_share)
    def refund(self, pick, share):
        self._refund(db.session.get(Sale, self.sales[pick % len(self.sales)]), pick, share)

    @precondition(lambda self: self.in_transit or any(self.paid.values()))
    @rule(pick=st.integers(0, 50), share=refund_share)
    def refund_after_payout(self, pick, share):
        """Refunds that land once the reward is batched or paid, the path that leaves a debt."""
        settled = db.session.scalars(sa.select(Reward).where(Reward.status.in_(("batched", "paid")))
                                     .order_by(Reward.id)).all()
        if settled:
            self._refund(settled[pick % len(settled)].sale, pick, share)

    def _refund(self, sale, pick, share):
        left = sale.amount - sum(r.amount for r in sale.refunds)
        if left <= 0:
            return
        sale.refunds.append(Refund(external_id=f"re-{len(self.sales)}-{pick}-{share}-{left}-{sale.id}",
                                   amount=max(1, left * share // 100)))
        db.session.flush()
        on_sale_refunded(sale)
        db.session.commit()

    @rule(who=st.integers(0, 1), currency=currencies, day=st.just(900) | st.integers(0, 900))
    def batch(self, who, currency, day):
        batched = batch_payable(self.referrers[who], currency, at=START + timedelta(days=day))
        db.session.commit()
        if batched is not None:
            assert 0 <= batched.netted <= batched.gross and batched.net == batched.gross - batched.netted
            self.in_transit.append((batched.customer_id, currency, batched.transaction.id, batched.net))

    @precondition(lambda self: self.in_transit)
    @rule(pick=st.integers(0, 50))
    def transfer_arrives(self, pick):
        customer_id, currency, batch_transaction_id, net = self.in_transit.pop(pick % len(self.in_transit))
        confirm_paid(batch_transaction_id, net)
        db.session.commit()
        self.paid[(customer_id, currency)] += net

    @rule(who=st.integers(0, 1), currency=currencies, share=st.integers(1, 100))
    def transfer_reversed(self, who, currency, share):
        key = (self.referrers[who], currency)
        amount = self.paid[key] * share // 100
        if amount > 0:
            reverse_transfer(key[0], currency, amount, idempotency_key=f"transfer_reversal:{uuid.uuid4().hex}")
            db.session.commit()
            self.paid[key] -= amount

    @invariant()
    def ledger_check_passes(self):
        assert check_ledger() == []

    @invariant()
    def ledger_balances_per_currency(self):
        totals = db.session.execute(sa.select(LedgerEntry.currency, sa.func.sum(LedgerEntry.amount))
                                    .group_by(LedgerEntry.currency)).all()
        assert all(total == 0 for _, total in totals), totals

    @invariant()
    def referrer_balance_is_earned_minus_reversed_minus_paid(self):
        rewards = db.session.scalars(sa.select(Reward)).all()
        for customer_id in self.referrers:
            accounts = referrer_balances(customer_id)
            for currency in CURRENCIES:
                mine = [r for r in rewards if r.referrer_id == customer_id and r.currency == currency]
                earned = sum(r.granted_amount for r in mine)
                reversed_ = sum(r.granted_amount - r.value for r in mine)
                kinds = accounts.get(currency, defaultdict(int))
                owed = kinds["referrer_earned"] + kinds["referrer_debt"] + kinds["payouts_in_transit"]
                assert owed == earned - reversed_ - self.paid[(customer_id, currency)]
                assert kinds["paid_out"] == self.paid[(customer_id, currency)]

    @invariant()
    def no_reward_exceeds_its_caps(self):
        running = defaultdict(int)
        rows = db.session.execute(sa.select(Reward, Program, Sale.occurred_at).join(Program).join(Sale)
                                  .order_by(Reward.id)).all()
        for reward, program, occurred_at in rows:
            assert 0 <= reward.clawback_amount <= reward.amount <= reward.granted_amount
            if program.max_reward_amount is not None:
                assert reward.granted_amount <= program.max_reward_amount
            key = (reward.referrer_id, reward.currency, year_bounds(occurred_at)[0])
            running[key] += reward.value
            if program.yearly_cap_amount is not None and reward.value:
                assert running[key] <= program.yearly_cap_amount

    def teardown(self):
        result = self.runner.invoke(args=["ledger", "check"])
        assert result.exit_code == 0, result.output


def test_random_histories_keep_the_ledger_sound(app, runner):
    LedgerMachine.runner = runner
    run_state_machine_as_test(LedgerMachine, settings=settings(
        max_examples=30, stateful_step_count=25, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
