"""Rows the staff-page tests share: rewards with their sales, and a dashboard's worth of referrals."""
from datetime import timedelta

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.ledger.payouts import batch_payable, confirm_paid
from rewards.programs.service import program_in_force
from tests import factories


def seed_reward(referral, amount, status="held", payable_in_days=10, currency="usd"):
    """A sale of `amount` that qualifies `referral` and earns a reward of the same amount, through the programs
    and ledger services; its hold ends in `payable_in_days`, and a `paid` one goes through a payout."""
    hold_days = 14
    if program_in_force(currency, utcnow()) is None:
        factories.program(currency=currency, reward_type="percent", percent="100", hold_days=hold_days,
                          effective_from=utcnow() - timedelta(days=365))
    sale = factories.sale(referral, amount=amount, currency=currency, email=referral.referee_email,
                          occurred_at=utcnow() + timedelta(days=payable_in_days - hold_days))
    reward = factories.qualify(referral, sale)
    if status == "paid":
        batch = batch_payable(referral.referrer_id, currency)
        confirm_paid(batch.transaction.id, batch.net)
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
