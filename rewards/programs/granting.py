"""Granting rewards: one path for one referral (a coordinator's approval) and for many (a re-validation).

The program in force, the referrers' years so far and the ledger accounts are asked once for all the
referrals: referrers are locked in id order, rules.grant() runs over each referral in the order given with
the referrer's year (count and value of standing rewards) carried forward in memory, and rewards, ledger
transactions, entries and audit events are written in bulk (rewards.bulk: COPY on PostgreSQL).
grant_reward() is grant_rewards() of one pair.
"""
import bisect
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from rewards import audit, events
from rewards.bulk import Prebuilt, among_param, chunks, insert_rows
from rewards.clock import utcnow
from rewards.customers.service import lock_referrers
from rewards.extensions import db
from rewards.ledger.postings import earning
from rewards.ledger.service import post_many
from rewards.programs import rules
from rewards.programs.models import Program, Reward
from rewards.programs.rules import Year, year_bounds
from rewards.programs.service import active_versions, in_force
from rewards.referrals.models import Referral
from rewards.sales.models import Refund, Sale

CHUNK = 5000


class ProgramsInForce:
    """program_in_force() for many sales: the currency's active versions (tiers loaded) read once, in one statement,
    and the version in force found once per start date rather than once per sale."""

    def __init__(self):
        self._versions: dict[str, list[Program]] = {}
        self._starts: dict[str, list[datetime]] = {}
        self._cache: dict[tuple, Program | None] = {}

    def at(self, currency: str, when: datetime) -> Program | None:
        if currency not in self._versions:
            self._versions[currency] = active_versions(currency)
            self._starts[currency] = sorted({program.effective_from for program in self._versions[currency]})
        starts = self._starts[currency]
        index = bisect.bisect_right(starts, when)
        if index == 0:
            return None
        key = (currency, starts[index - 1])
        if key not in self._cache:
            self._cache[key] = in_force(self._versions[currency], starts[index - 1])
        return self._cache[key]


@Prebuilt
def _referrers_statement():
    return select(Referral.id, Referral.referrer_id).where(among_param(Referral.id, "referral_ids"))


def _referrers(referral_ids: list[int]) -> dict[int, int]:
    referrers = {}
    for chunk in chunks(referral_ids, CHUNK):
        referrers.update(db.session.execute(_referrers_statement(), {"referral_ids": chunk}).all())
    return referrers


@Prebuilt
def _facts_statement():
    refunds = (select(Refund.sale_id, func.sum(Refund.amount).label("total"), func.count().label("n"))
               .where(among_param(Refund.sale_id, "sale_ids")).group_by(Refund.sale_id).subquery())
    return (select(Sale.id, Sale.amount, func.coalesce(refunds.c.total, 0), func.coalesce(refunds.c.n, 0),
                   Sale.currency, Sale.occurred_at)
            .outerjoin(refunds, refunds.c.sale_id == Sale.id).where(among_param(Sale.id, "sale_ids")))


def _facts(pairs: list[tuple[int, int]], referrers: dict[int, int]) -> dict[int, tuple]:
    """{referral_id: (referrer_id, sale_id, amount, refunded, refund_count, currency, occurred_at)}."""
    facts = {}
    for chunk in chunks(pairs, CHUNK):
        sale_ids = sorted({sale_id for _, sale_id in chunk})
        rows = {row[0]: row[1:] for row in db.session.execute(_facts_statement(), {"sale_ids": sale_ids})}
        for referral_id, sale_id in chunk:
            facts[referral_id] = (referrers[referral_id], sale_id, *rows[sale_id])
    return facts


@Prebuilt
def _existing_statement():
    return select(Reward.referral_id, Reward.id).where(among_param(Reward.referral_id, "referral_ids"))


def _existing(referral_ids: list[int]) -> dict[int, int]:
    found = {}
    for chunk in chunks(referral_ids, CHUNK):
        found.update(db.session.execute(_existing_statement(), {"referral_ids": chunk}).all())
    return found


@Prebuilt
def _years_statement():
    return (select(Reward.referrer_id, func.count(Reward.id).filter(Reward.status != "reversed"),
                   func.coalesce(func.sum(Reward.value), 0))
            .join(Sale, Sale.id == Reward.sale_id)
            .where(among_param(Reward.referrer_id, "referrer_ids"), Reward.currency == bindparam("currency"),
                   Sale.occurred_at >= bindparam("start"), Sale.occurred_at < bindparam("end"))
            .group_by(Reward.referrer_id))


def years_so_far(keys: set[tuple]) -> dict[tuple, Year]:
    """{(referrer_id, currency, year start): Year} from the stored rewards: the one "year so far" query.

    A year is counted by sale time; a reversed reward counts for nothing, a reduced or clawed back one at
    what it is worth now.
    """
    years = {key: Year() for key in keys}
    by_period: dict[tuple, list[int]] = {}
    for referrer_id, currency, year in keys:
        by_period.setdefault((currency, year), []).append(referrer_id)
    for (currency, year), referrer_ids in by_period.items():
        start, end = year, year.replace(year=year.year + 1)
        for chunk in chunks(sorted(referrer_ids), CHUNK):
            rows = db.session.execute(_years_statement(), {"referrer_ids": chunk, "currency": currency,
                                                           "start": start, "end": end})
            for referrer_id, count, total in rows:
                years[(referrer_id, currency, year)] = Year(int(count), int(total))
    return years


def _compute(pairs: list[tuple[int, int]], facts: dict, programs: ProgramsInForce) -> list[dict]:
    """The reward rows for the pairs, in the order given: rules.grant() over each, the year carried forward."""
    keyed = [(referral_id, facts[referral_id]) for referral_id, _ in pairs]
    keys = [(fact[0], fact[5], year_bounds(fact[6])[0]) for _, fact in keyed]
    years = years_so_far(set(keys))
    rows = []
    for (referral_id, fact), key in zip(keyed, keys):
        referrer_id, sale_id, amount, refunded, refund_count, currency, occurred_at = fact
        program = programs.at(currency, occurred_at)
        granted = rules.grant(program, amount - refunded, bool(refund_count), years[key])
        if granted is None:
            continue
        years[key] = granted.year
        rows.append({"referral_id": referral_id, "referrer_id": referrer_id, "sale_id": sale_id,
                     "program_id": program.id, "amount": granted.amount, "granted_amount": granted.amount,
                     "clawback_amount": 0, "tier_from_referral": granted.tier_from_referral, "currency": currency,
                     "status": "reversed" if granted.reversed else "held",
                     "payable_at": occurred_at + timedelta(days=program.hold_days),
                     "reversed_reason": "The sale was refunded." if granted.reversed else None,
                     "referee_coupon_code": program.referee_coupon_code,
                     "referee_credit_amount": program.referee_credit_amount})
    return rows


def _post_earned(rows: list[dict], reward_ids: list[int]) -> None:
    """One `earn` transaction per reward worth something, as post_earned does, through the ledger's post_many."""
    post_many([earning(reward_id, row["referrer_id"], row["currency"], row["amount"])
               for row, reward_id in zip(rows, reward_ids) if row["amount"]])


def _audit(rows: list[dict], reward_ids: list[int]) -> None:
    """reward.granted for each reward, and reward.reversed for those reversed at once (a refunded sale)."""
    events = []
    for row, reward_id in zip(rows, reward_ids):
        events.append(("reward.granted", "rewards", reward_id, {
            "amount": row["amount"], "currency": row["currency"], "program_id": row["program_id"],
            "tier": row["tier_from_referral"]}))
        if row["status"] == "reversed":
            events.append(("reward.reversed", "rewards", reward_id, {"reason": "refund", "amount": 0}))
    audit.record_many(events)


def grant_rewards(pairs: list[tuple[int, int]], programs: ProgramsInForce | None = None,
                  referrers: dict[int, int] | None = None, _retry: bool = False) -> dict[int, int | None]:
    """Rewards for referrals that just qualified, as (referral_id, sale_id) pairs in order (not committed).

    Every grant, one or many, comes through here: rules.grant() over each pair in that order, with the
    referrer's year carried forward; rewards, `earn` transactions (ledger post_many) and audit events
    written in bulk. Returns {referral_id: reward id, or None without a program or below its minimum}.
    Idempotent: a referral that already has a reward keeps it.

    A caller that has weighed the referrals passes what it read for that: the programs it weighed them by (so
    the decision and the reward use the same version, read once) and {referral_id: referrer_id}.
    """
    if not pairs:
        return {}
    db.session.flush()
    programs = programs or ProgramsInForce()
    if referrers is None:
        referrers = _referrers([referral_id for referral_id, _ in pairs])
    lock_referrers(referrers.values())
    # Read after the locks: a refund recorded meanwhile is either seen here or waits to adjust our reward.
    result: dict[int, int | None] = {referral_id: None for referral_id, _ in pairs}
    existing = _existing(list(result))
    result.update(existing)
    todo = [pair for pair in pairs if pair[0] not in existing]
    rows = _compute(todo, _facts(todo, referrers), programs)
    if not rows:
        return result
    new_rows = [{**row, "created_at": utcnow()} for row in rows]
    if db.engine.dialect.name == "postgresql":
        # The referrer locks taken above keep every other grant of these referrals waiting until we commit, and
        # _existing() ran after them: no twin can be inserted meanwhile, so no savepoint is needed to survive one.
        reward_ids = insert_rows(Reward.__table__, new_rows, ids=True)
    else:
        try:
            with db.session.begin_nested():
                reward_ids = insert_rows(Reward.__table__, new_rows, ids=True)
        except IntegrityError:
            # Another worker granted one of them between our check and insert (SQLite has no row lock to
            # wait on): theirs stand, and the rest are granted again.
            if _retry:
                raise
            return {**result, **grant_rewards(todo, programs, referrers, _retry=True)}
    result.update(zip((row["referral_id"] for row in rows), reward_ids))
    _post_earned(rows, reward_ids)
    _audit(rows, reward_ids)
    events.rewards_granted.send(None, reward_ids=[reward_id for row, reward_id in zip(rows, reward_ids)
                                                  if row["status"] != "reversed"])
    return result


def grant_reward(referral: Referral, sale: Sale) -> Reward | None:
    """The reward of one referral that just qualified with `sale` (not committed): grant_rewards() of one pair."""
    reward_id = grant_rewards([(referral.id, sale.id)])[referral.id]
    return db.session.get(Reward, reward_id, populate_existing=True) if reward_id is not None else None
