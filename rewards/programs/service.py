"""Program rules: which version is in force, and the reward a qualified referral earns."""
from datetime import datetime, timedelta

from rewards import audit
from rewards.extensions import db
from rewards.money import percent_of
from rewards.programs.models import Program, Reward
from rewards.referrals.models import Referral
from rewards.sales.models import Sale


def program_in_force(currency: str, at: datetime) -> Program | None:
    """The newest active version for `currency` whose effective_from is on or before `at`."""
    return db.session.scalar(
        db.select(Program)
        .where(Program.currency == currency, Program.active.is_(True), Program.effective_from <= at)
        .order_by(Program.effective_from.desc(), Program.id.desc())
        .limit(1))


def reward_amount(program: Program, sale_amount: int) -> int:
    """Flat amount or percent of the sale, limited by the program's maximum reward."""
    amount = program.amount if program.reward_type == "flat" else percent_of(sale_amount, program.percent)
    if program.max_reward_amount is not None:
        amount = min(amount, program.max_reward_amount)
    return max(amount, 0)


def grant_reward(referral: Referral, sale: Sale) -> Reward | None:
    """The reward for a referral that just qualified with `sale` (not committed); None without a program.

    Called by sales validation and by a coordinator's approval. Idempotent: a referral earns at most once.
    """
    existing = db.session.scalar(db.select(Reward).filter_by(referral_id=referral.id))
    if existing is not None:
        return existing
    program = program_in_force(sale.currency, sale.occurred_at)
    if program is None:
        return None
    reward = Reward(referral_id=referral.id, referrer_id=referral.referrer_id, sale_id=sale.id,
                    program_id=program.id, amount=reward_amount(program, sale.amount), currency=sale.currency,
                    status="held", payable_at=sale.occurred_at + timedelta(days=program.hold_days))
    db.session.add(reward)
    db.session.flush()
    audit.record("reward.granted", reward, {"amount": reward.amount, "currency": reward.currency})
    return reward


def on_sale_refunded(sale: Sale) -> None:
    """Adjust the reward a sale earned after a refund (not committed): recomputed on the net sale.

    Called by the sales package after each new refund. The ledger side (reversal, or a debt when
    the reward was already paid) belongs to this package.
    """
    reward = db.session.scalar(db.select(Reward).filter_by(sale_id=sale.id))
    if reward is None or reward.status in ("reversed", "paid", "batched"):
        return
    net = sale.amount - sum(refund.amount for refund in sale.refunds)
    program = reward.program
    if net <= 0 or net < program.min_sale_amount:
        reward.status, reward.reversed_reason = "reversed", "The sale was refunded."
        audit.record("reward.reversed", reward, {"reason": "refund"})
    else:
        new_amount = min(reward.amount, reward_amount(program, net))
        if new_amount != reward.amount:
            audit.record("reward.reduced", reward, {"from": reward.amount, "to": new_amount})
            reward.amount = new_amount
