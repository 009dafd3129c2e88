"""The program in plain sentences, for the people it pays: the referrer's reward and the friend's offer."""
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.money import format_money
from rewards.programs.models import Program
from rewards.programs.service import program_in_force


def programs_in_force(at=None) -> list[Program]:
    """The version in force now for each currency that has a program, by currency."""
    at = at or utcnow()
    currencies = db.session.scalars(db.select(Program.currency).distinct().order_by(Program.currency)).all()
    return [program for program in (program_in_force(currency, at) for currency in currencies) if program]


def _reward(program: Program) -> str:
    if program.reward_type == "flat":
        return format_money(program.amount or 0, program.currency)
    text = f"{format(program.percent.normalize(), 'f')}% of their purchase"
    if program.max_reward_amount is not None:
        text += f" (up to {format_money(program.max_reward_amount, program.currency)})"
    return text


def referrer_sentence(program: Program) -> str:
    """One sentence: the reward, the minimum sale, the window, the hold and how payouts work."""
    minimum = (f" of at least {format_money(program.min_sale_amount, program.currency)}"
               if program.min_sale_amount else "")
    hold = (f"{program.hold_days} days after their purchase, once it can no longer be refunded"
            if program.hold_days else "as soon as they have bought")
    return (f"You earn {_reward(program)} for each friend who makes a purchase{minimum} within "
            f"{program.attribution_days} days of your referral; the reward becomes payable {hold}, and we pay "
            f"it to your payout account in our next payout run.")


def referee_offer(program: Program | None) -> str | None:
    """What the friend gets, in one sentence, when the program gives them anything."""
    if program is None:
        return None
    parts = []
    if program.referee_credit_amount:
        parts.append(f"{format_money(program.referee_credit_amount, program.currency)} credit on your first purchase")
    if program.referee_coupon_code:
        parts.append(f"the code {program.referee_coupon_code} to use at checkout")
    return f"As a friend of a customer, you get {' and '.join(parts)}." if parts else None
