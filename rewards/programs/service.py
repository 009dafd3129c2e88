"""Program versions: creating them, which one is in force; a refund's effect on a reward; listing rewards.

Rewards are granted by rewards.programs.granting; their amounts come from rewards.programs.rules.
"""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from rewards import audit, events
from rewards.bulk import Prebuilt
from rewards.clock import utcnow
from rewards.customers.service import lock_referrer
from rewards.errors import Conflict, InvalidInput, NotFound
from rewards.extensions import db
from rewards.ledger.balances import held_condition
from rewards.ledger.postings import post_clawback, post_taken_back
from rewards.programs import rules
from rewards.programs.models import REWARD_TYPES, SETTLING_STATUSES, Program, ProgramTier, Reward
from rewards.sales.models import Sale

MAX_DAYS = 3650
RULE_FIELDS = ("currency", "reward_type", "amount", "percent", "min_sale_amount", "max_reward_amount",
               "attribution_days", "hold_days", "yearly_cap_amount", "referee_coupon_code", "referee_credit_amount")


def program_in_force(currency: str, at: datetime) -> Program | None:
    """The newest active version for `currency` already effective at `at` (a newer version supersedes)."""
    return in_force(active_versions(currency), at)


def active_versions(currency: str) -> list[Program]:
    """Every active version for `currency`, tiers loaded: one statement (a currency has a handful of versions)."""
    return db.session.scalars(_active_versions_statement(), {"currency": currency}).unique().all()


@Prebuilt
def _active_versions_statement():
    return (db.select(Program).options(joinedload(Program.tiers))
            .where(Program.currency == bindparam("currency"), Program.active.is_(True)))


def in_force(versions: list[Program], at: datetime) -> Program | None:
    """Of `versions` (active_versions), the one in force at `at`: the newest already effective."""
    effective = [program for program in versions if program.effective_from <= at]
    return max(effective, key=lambda program: (program.version, program.id), default=None)


def _check_positive(rules: dict, field: str, required: bool = False, minimum: int = 1):
    value = rules.get(field)
    if value is None:
        if required:
            raise InvalidInput(f"{field} is required.", field)
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"{field} must be a whole number of at least {minimum}.", field)


def _check_percent(value, field: str):
    if not isinstance(value, Decimal) or not value.is_finite() or not Decimal(0) < value <= Decimal(100):
        raise InvalidInput(f"{field} must be a number above 0 and at most 100.", field)
    if value.as_tuple().exponent < -4:
        raise InvalidInput(f"{field} may have at most 4 decimal places.", field)


def _check_amount_or_percent(amount, percent, amount_field: str, percent_field: str, reward_type: str):
    if reward_type == "flat":
        if percent is not None:
            raise InvalidInput("A flat reward takes an amount, not a percent.", percent_field)
        _check_positive({amount_field: amount}, amount_field, required=True)
    else:
        if amount is not None:
            raise InvalidInput("A percent reward takes a percent, not an amount.", amount_field)
        if percent is None:
            raise InvalidInput(f"{percent_field} is required for a percent reward.", percent_field)
        _check_percent(percent, percent_field)


def _check_tiers(tiers: list[dict]):
    seen = set()
    for tier in tiers:
        _check_positive(tier, "from_referral", required=True, minimum=2)
        if tier["from_referral"] in seen:
            raise InvalidInput(f"Two tiers start at referral {tier['from_referral']}.", "tiers")
        seen.add(tier["from_referral"])
        if (tier.get("amount") is None) == (tier.get("percent") is None):
            raise InvalidInput("Each tier takes either an amount or a percent.", "tiers")
        kind = "flat" if tier.get("amount") is not None else "percent"
        _check_amount_or_percent(tier.get("amount"), tier.get("percent"), "tiers", "tiers", kind)


def validate_rules(rules: dict) -> None:
    """Raise InvalidInput naming the field when the rules contradict themselves or a number is out of range."""
    currency = rules.get("currency") or ""
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha() or not currency.islower():
        raise InvalidInput("currency must be a lower-case ISO 4217 code.", "currency")
    if rules.get("reward_type") not in REWARD_TYPES:
        raise InvalidInput("reward_type must be flat or percent.", "reward_type")
    _check_amount_or_percent(rules.get("amount"), rules.get("percent"), "amount", "percent", rules["reward_type"])
    _check_positive(rules, "min_sale_amount", required=True, minimum=0)
    _check_positive(rules, "max_reward_amount")
    _check_positive(rules, "yearly_cap_amount")
    _check_positive(rules, "referee_credit_amount")
    _check_positive(rules, "attribution_days", required=True)
    _check_positive(rules, "hold_days", required=True, minimum=0)
    for field in ("attribution_days", "hold_days"):
        if rules[field] > MAX_DAYS:
            raise InvalidInput(f"{field} may be at most {MAX_DAYS}.", field)
    if rules["reward_type"] == "flat" and rules.get("max_reward_amount") is not None \
            and rules["amount"] > rules["max_reward_amount"]:
        raise InvalidInput("A flat amount above max_reward_amount would never be paid in full.", "amount")
    _check_tiers(rules.get("tiers") or [])


def build_program(rules: dict) -> Program:
    """A Program (not added to the session) from validated rules; also the candidate of a what-if run."""
    program = Program(**{field: rules.get(field) for field in RULE_FIELDS}, tiers=[
        ProgramTier(from_referral=t["from_referral"], amount=t.get("amount"), percent=t.get("percent"))
        for t in rules.get("tiers") or []])
    program.min_sale_amount = rules.get("min_sale_amount") or 0
    program.hold_days = rules.get("hold_days") or 0
    program.referee_coupon_code = (rules.get("referee_coupon_code") or "").strip() or None
    return program


def create_program(rules: dict, user=None) -> Program:
    """A new version of the currency's program (not committed); it supersedes older ones from effective_from."""
    name = (rules.get("name") or "").strip()
    if not name:
        raise InvalidInput("name is required.", "name")
    validate_rules(rules)
    program = build_program(rules)
    program.name = name
    program.effective_from = rules.get("effective_from") or utcnow()
    program.created_by_id = getattr(user, "id", None)
    latest = db.session.scalar(db.select(func.max(Program.version)).where(Program.currency == program.currency))
    program.version = (latest or 0) + 1
    try:
        with db.session.begin_nested():
            db.session.add(program)
    except IntegrityError:
        raise Conflict("Another version of this program was created at the same moment; try again.") from None
    audit.record("program.created", program, {"currency": program.currency, "version": program.version})
    return program


def get_program(program_id: int) -> Program:
    program = db.session.get(Program, program_id)
    if program is None:
        raise NotFound("No such program.")
    return program


def programs_query(currency: str | None = None):
    """Every version, newest first."""
    query = db.select(Program).order_by(Program.currency, Program.version.desc())
    return query.where(Program.currency == currency) if currency else query


def net_amount(sale: Sale) -> int:
    return sale.amount - sum(refund.amount for refund in sale.refunds)


def on_sale_refunded(sale: Sale) -> None:
    """Shrink the sale's reward to what the net sale earns (not committed); safe to call again.

    Unpaid: the reward is reduced, or reversed when nothing is left. Batched or paid: the difference
    becomes the referrer's debt, netted off their next payout.
    """
    reward = db.session.scalar(db.select(Reward).filter_by(sale_id=sale.id))
    if reward is None:
        return
    lock_referrer(reward.referrer_id)
    db.session.refresh(reward)
    if reward.status == "reversed":
        return
    settled = reward.status in SETTLING_STATUSES
    after = rules.refund(reward.program, reward.tier_from_referral, net_amount(sale), reward.value, settled)
    taken = after.taken
    if settled:
        if taken > 0:
            reward.clawback_amount += taken
            post_clawback(reward, taken)
            audit.record("reward.clawed_back", reward, {"amount": taken, "sale_id": sale.id})
            events.reward_taken_back.send(reward, amount=taken)
    elif after.reversed:
        reward.status, reward.reversed_reason = "reversed", "The sale was refunded."
        post_taken_back(reward, taken, "reverse")
        audit.record("reward.reversed", reward, {"reason": "refund", "amount": taken})
        events.reward_taken_back.send(reward, amount=taken)
    elif taken > 0:
        audit.record("reward.reduced", reward, {"from": reward.amount, "to": after.value})
        reward.amount = after.value
        post_taken_back(reward, taken, "reduce")
    db.session.flush()


def rewards_query(referrer_id: int | None = None, status: str | None = None):
    """Rewards newest first; `payable` and `held` follow payable_at, as Reward.effective_status does."""
    query = db.select(Reward).order_by(Reward.created_at.desc(), Reward.id.desc())
    if referrer_id is not None:
        query = query.where(Reward.referrer_id == referrer_id)
    now = utcnow()
    if status == "held":
        query = query.where(held_condition(now))
    elif status == "payable":
        query = query.where(Reward.status.in_(("held", "payable")), ~held_condition(now))
    elif status:
        query = query.where(Reward.status == status)
    return query
