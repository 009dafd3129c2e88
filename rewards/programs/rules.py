"""Reward arithmetic of one program version: tiers, percent rounding, per-referral and yearly caps."""
from datetime import datetime, timezone

from rewards.money import percent_of
from rewards.programs.models import Program, ProgramTier


def tier_for(program: Program, nth: int) -> ProgramTier | None:
    """The tier for the referrer's `nth` qualified referral of the year: the highest one reached."""
    reached = [tier for tier in program.tiers if tier.from_referral <= nth]
    return max(reached, key=lambda tier: tier.from_referral) if reached else None


def rule_amount(program: Program, tier: ProgramTier | None, sale_amount: int) -> int:
    """Flat amount or percent of the sale (half-even), by the tier if any, limited by the per-referral maximum."""
    rule = tier or program
    amount = rule.amount if rule.reward_type == "flat" else percent_of(sale_amount, rule.percent)
    if program.max_reward_amount is not None:
        amount = min(amount, program.max_reward_amount)
    return max(amount, 0)


def within_yearly_cap(program: Program, amount: int, earned_this_year: int) -> int:
    """`amount` cut so the referrer's year stays within the program's yearly cap."""
    if program.yearly_cap_amount is None:
        return amount
    return max(0, min(amount, program.yearly_cap_amount - earned_this_year))


def qualifies(program: Program, sale_amount: int) -> bool:
    """Whether a sale of this (net) amount is large enough to earn anything."""
    return sale_amount > 0 and sale_amount >= program.min_sale_amount


def year_bounds(at: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar year holding `at`, as [start, end)."""
    start = datetime(at.astimezone(timezone.utc).year, 1, 1, tzinfo=timezone.utc)
    return start, start.replace(year=start.year + 1)
