"""The reward rule: pure functions of one program version, a sale's net amount and the referrer's year so far.

`grant` says what a referral that qualifies with a sale earns (amount, tier, whether a cap cut it, whether
it is reversed at once) and what the referrer's year so far becomes; `refund` says what a refund later
leaves of it. Nothing here reads the database: the one-row grant, the bulk grant (re-validation, CSV
import), a refund and what-if all call these, and no other code computes a reward.
"""
from dataclasses import dataclass
from datetime import datetime, timezone

from rewards.money import percent_of
from rewards.programs.models import Program, ProgramTier


@dataclass(frozen=True, slots=True)
class Year:
    """A referrer's calendar year (by sale time) in one currency: standing (not reversed) rewards and their value."""

    rewards: int = 0
    earned: int = 0


@dataclass(frozen=True, slots=True)
class Granted:
    """What a qualified referral earns: `amount`, the tier applied (its from_referral, None for the base rule),
    whether a cap cut it, whether it is reversed at once (a refunded sale the cap left nothing of), and the
    referrer's year after it."""

    amount: int
    tier_from_referral: int | None
    capped: bool
    reversed: bool
    year: Year


@dataclass(frozen=True, slots=True)
class Refunded:
    """A reward after a refund of its sale: its new value, `taken` off it, whether it is reversed (nothing left
    of an unpaid reward), and the referrer's year after it."""

    value: int
    taken: int
    reversed: bool
    year: Year


def tier_for(program: Program, nth: int) -> ProgramTier | None:
    """The tier for the referrer's `nth` qualified referral of the year: the highest one reached."""
    reached = [tier for tier in program.tiers if tier.from_referral <= nth]
    return max(reached, key=lambda tier: tier.from_referral) if reached else None


def _tier(program: Program, from_referral: int | None) -> ProgramTier | None:
    return next((tier for tier in program.tiers if tier.from_referral == from_referral), None)


def _uncapped(program: Program, tier: ProgramTier | None, net_amount: int) -> int:
    rule = tier or program
    return rule.amount if rule.reward_type == "flat" else percent_of(net_amount, rule.percent)


def rule_amount(program: Program, tier: ProgramTier | None, net_amount: int) -> int:
    """Flat amount or percent of the sale (half-even), by the tier if any, limited by the per-referral maximum."""
    amount = _uncapped(program, tier, net_amount)
    if program.max_reward_amount is not None:
        amount = min(amount, program.max_reward_amount)
    return max(amount, 0)


def qualifies(program: Program, net_amount: int) -> bool:
    """Whether a sale of this (net) amount is large enough to earn anything."""
    return net_amount > 0 and net_amount >= program.min_sale_amount


def grant(program: Program | None, net_amount: int, refunded: bool, year: Year) -> Granted | None:
    """The reward of a referral that qualifies with a sale of `net_amount` (after the refunds so far; `refunded`:
    there were some), given the referrer's year so far; None when the program grants nothing for it."""
    if program is None or not qualifies(program, net_amount):
        return None
    tier = tier_for(program, year.rewards + 1)
    per_referral = rule_amount(program, tier, net_amount)
    amount = per_referral
    if program.yearly_cap_amount is not None:
        amount = max(0, min(amount, program.yearly_cap_amount - year.earned))
    # A refunded sale whose reward the cap cut to nothing is reversed at once, as a refund after it would.
    reversed_ = refunded and amount == 0
    after = year if reversed_ else Year(year.rewards + 1, year.earned + amount)
    return Granted(amount, tier.from_referral if tier else None,
                   amount < _uncapped(program, tier, net_amount), reversed_, after)


def refund(program: Program, tier_from_referral: int | None, net_amount: int, value: int, settled: bool,
           year: Year = Year()) -> Refunded:
    """What a reward worth `value` is worth once its sale is down to `net_amount`: never more than now.

    Unpaid (`settled` False), it is reduced, or reversed when nothing is left; batched or paid, the part
    taken becomes the referrer's debt (a clawback) and the reward stands.
    """
    target = min(value, rule_amount(program, _tier(program, tier_from_referral), net_amount)) \
        if qualifies(program, net_amount) else 0
    taken = value - target
    if not settled and target == 0:
        return Refunded(0, taken, True, Year(year.rewards - 1, year.earned - value))
    return Refunded(target, taken, False, Year(year.rewards, year.earned - taken))


def year_bounds(at: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar year holding `at`, as [start, end)."""
    start = datetime(at.astimezone(timezone.utc).year, 1, 1, tzinfo=timezone.utc)
    return start, start.replace(year=start.year + 1)
