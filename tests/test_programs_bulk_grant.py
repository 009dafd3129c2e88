"""Granting many rewards at once gives exactly what granting them one by one gives: amounts, ledger, audit."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from rewards import bulk
from rewards.audit.models import AuditEvent
from rewards.extensions import db
from rewards.ledger.check import check_ledger
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction
from rewards.programs.granting import grant_rewards
from rewards.programs.models import Reward
from rewards.programs.granting import grant_reward
from rewards.programs.service import on_sale_refunded
from rewards.referrals.models import Referral
from rewards.sales.models import Refund, Sale
from tests import factories
from tests.locking import one_after_the_other

MARCH = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def _mixed_case() -> list[tuple[int, int]]:
    """(referral, sale) pairs across referrers, years, currencies and program versions, with refunds.

    Tiers from the 2nd and 4th referral, a yearly cap that cuts and then zeroes rewards, a sale below
    the minimum, a partly refunded sale whose capped reward is nothing (reversed), and a referrer who
    already earned this year before the bulk grant.
    """
    factories.program(amount=1000, min_sale_amount=2000, yearly_cap_amount=4000,
                      tiers=[{"from_referral": 2, "amount": 1500}, {"from_referral": 4, "percent": "10"}])
    factories.program(reward_type="percent", percent="12.5", max_reward_amount=3000,
                      effective_from=datetime(2026, 6, 1, tzinfo=timezone.utc),
                      tiers=[{"from_referral": 3, "percent": "20"}])
    factories.program(currency="eur", amount=700, yearly_cap_amount=1000)
    rita, sam, tom = factories.customer(), factories.customer(), factories.customer()
    factories.rewarded_sale(sam, amount=5000, occurred_at=MARCH - timedelta(days=20))  # sam's year has begun
    plan = [  # referrer, amount, currency, days after MARCH, refunded
        (rita, 5000, "usd", 0, 0), (sam, 9000, "usd", 1, 0), (rita, 1999, "usd", 2, 0),
        (rita, 30000, "usd", 3, 1000), (tom, 4000, "eur", 4, 0), (rita, 8000, "usd", 5, 0),
        (rita, 8000, "usd", 6, 500), (sam, 40000, "usd", 120, 0), (tom, 4000, "eur", 5, 0),
        (rita, 8000, "usd", 7, 0), (tom, 4000, "eur", 6, 100), (sam, 12000, "usd", 121, 12000),
        (rita, 6000, "usd", 320, 0), (sam, 50000, "usd", 122, 0), (rita, 9000, "usd", 400, 0),
    ]
    pairs = []
    for referrer, amount, currency, days, refunded in plan:
        when = MARCH + timedelta(days=days)
        referral = factories.referral(referrer, created_at=when - timedelta(days=1), status="qualified")
        sale = factories.sale(referral, amount=amount, currency=currency, occurred_at=when)
        if refunded:
            db.session.add(Refund(sale_id=sale.id, external_id=f"refund-{sale.id}", amount=refunded))
        pairs.append((referral.id, sale.id))
    db.session.commit()
    return pairs


def _one_by_one(pairs):
    for referral_id, sale_id in pairs:
        sale = db.session.get(Sale, sale_id)
        reward = grant_reward(db.session.get(Referral, referral_id), sale)
        if reward is not None and sale.refunds:
            on_sale_refunded(sale)


def _outcome(pairs) -> dict:
    """Everything the grants wrote for these referrals, free of ids and clock times."""
    referral_ids = [referral_id for referral_id, _ in pairs]
    rewards = db.session.scalars(sa.select(Reward).where(Reward.referral_id.in_(referral_ids))
                                 .order_by(Reward.referral_id)).all()
    by_reward = {reward.id: reward.referral_id for reward in rewards}
    legs = db.session.execute(
        sa.select(LedgerEntry.reward_id, LedgerTransaction.kind, LedgerTransaction.customer_id, Account.key,
                  LedgerEntry.currency, LedgerEntry.amount)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.reward_id.in_(by_reward)).order_by(LedgerEntry.id)).all()
    events = db.session.execute(sa.select(AuditEvent.action, AuditEvent.entity_id, AuditEvent.detail)
                                .where(AuditEvent.entity_type == "rewards", AuditEvent.entity_id.in_(by_reward))
                                .order_by(AuditEvent.id)).all()
    return {
        "rewards": [(r.referral_id, r.referrer_id, r.sale_id, r.program_id, r.amount, r.granted_amount,
                     r.clawback_amount, r.tier_from_referral, r.currency, r.status, r.payable_at,
                     r.reversed_reason, r.referee_coupon_code, r.referee_credit_amount) for r in rewards],
        "legs": [(by_reward[reward_id], *rest) for reward_id, *rest in legs],
        "audit": [(action, by_reward[entity_id], detail) for action, entity_id, detail in events],
    }


@pytest.mark.parametrize("copy_from", [1, bulk.COPY_FROM])  # rows written by COPY (PostgreSQL) and by INSERT
def test_bulk_grant_equals_one_by_one_with_caps_tiers_refunds_and_versions(app, monkeypatch, copy_from):
    monkeypatch.setattr(bulk, "COPY_FROM", copy_from)
    pairs = _mixed_case()
    savepoint = db.session.begin_nested()
    _one_by_one(pairs)
    expected = _outcome(pairs)
    savepoint.rollback()
    db.session.expire_all()

    granted = grant_rewards(pairs)
    db.session.commit()

    assert _outcome(pairs) == expected
    amounts = [reward[4] for reward in expected["rewards"]]
    assert len(expected["rewards"]) == 13  # the sale below the minimum and the fully refunded one earn nothing
    assert 0 in amounts and any(reward[9] == "reversed" for reward in expected["rewards"])
    assert {reward[7] for reward in expected["rewards"]} >= {None, 2, 3, 4}
    assert sum(reward_id is not None for reward_id in granted.values()) == 13
    assert check_ledger() == []


def test_bulk_grant_is_idempotent_and_keeps_a_reward_granted_one_by_one(app):
    pairs = _mixed_case()
    _one_by_one(pairs[:3])
    db.session.commit()
    first = grant_rewards(pairs)
    db.session.commit()
    again = grant_rewards(pairs)
    db.session.commit()
    assert again == first
    assert db.session.scalar(sa.select(sa.func.count(Reward.id))) == 14  # 13 and the one made before
    assert check_ledger() == []


def test_two_grants_of_one_referral_at_once_make_one_reward(postgres):
    """PostgreSQL: the second grant waits on the referrer's lock, then finds the first one's reward (no twin)."""
    factories.program(amount=1000, min_sale_amount=1000)
    referral = factories.referral(created_at=MARCH - timedelta(days=1), status="qualified")
    sale = factories.sale(referral, amount=5000, occurred_at=MARCH)
    db.session.commit()
    pair = (referral.id, sale.id)
    results = one_after_the_other(postgres, lambda: grant_rewards([pair])[pair[0]])
    rewards = db.session.scalars(sa.select(Reward).where(Reward.referral_id == referral.id)).all()
    assert len(rewards) == 1 and results == {"first": rewards[0].id, "second": rewards[0].id}
    earned = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)
                               .where(LedgerEntry.reward_id == rewards[0].id))
    assert earned == 2  # one `earn` transaction's two legs
    assert check_ledger() == []
