"""Rows the staff-page tests share: rewards with their sales, and a dashboard's worth of referrals."""
from datetime import timedelta

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.programs.models import Program, Reward
from rewards.sales.models import Sale
from tests import factories


def seed_reward(referral, amount, status="held", payable_in_days=10, currency="usd"):
    """A sale and a reward for `referral` (the rows the rewards work creates, added directly here)."""
    now = utcnow()
    program = db.session.scalar(db.select(Program).filter_by(currency=currency)) or Program(
        name="Standard", currency=currency, reward_type="flat", amount=amount, attribution_days=30, hold_days=14,
        effective_from=now - timedelta(days=365))
    sale = Sale(external_id=f"sale-{referral.id}", email=referral.referee_email, amount=10_000, currency=currency,
                occurred_at=now, source="api", referral_id=referral.id)
    db.session.add_all([program, sale])
    db.session.flush()
    reward = Reward(referral_id=referral.id, referrer_id=referral.referrer_id, sale_id=sale.id, program_id=program.id,
                    amount=amount, currency=currency, status=status, payable_at=now + timedelta(days=payable_in_days))
    db.session.add(reward)
    db.session.commit()
    return reward


def seed_dashboard():
    """Referrals this month: 4 pending, 3 qualified, 1 review (top referrer: Rita with 5); one 200 days old."""
    now = utcnow()
    rita, sam = factories.customer(name="Rita Top"), factories.customer(name="Sam Second")
    made = [factories.referral(rita, status=s, created_at=now - timedelta(days=d))
            for s, d in [("pending", 1), ("pending", 2), ("qualified", 3), ("qualified", 4), ("review", 5)]]
    made += [factories.referral(sam, status=s, created_at=now - timedelta(days=d))
             for s, d in [("pending", 6), ("pending", 7), ("qualified", 8)]]
    factories.referral(sam, status="qualified", created_at=now - timedelta(days=200))
    seed_reward(made[2], 1500, "held", payable_in_days=5)      # held
    seed_reward(made[3], 2500, "held", payable_in_days=-1)     # hold over: payable
    seed_reward(made[7], 4000, "paid", payable_in_days=-20)    # paid
    return rita, sam
