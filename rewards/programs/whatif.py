"""What-if: a candidate rule set run over a period's referred sales, beside what the real rules did."""
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from rewards.bulk import among, chunks
from rewards.errors import InvalidInput
from rewards.extensions import db
from rewards.programs import rules
from rewards.programs.models import Program, Reward
from rewards.programs.rules import Year, year_bounds
from rewards.referrals.models import Referral
from rewards.sales.models import Sale

CHUNK = 5000


def _period(start: date, end: date) -> tuple[datetime, datetime]:
    if end < start:
        raise InvalidInput("'to' must be on or after 'from'.", "to")
    if (end - start).days > 3660:
        raise InvalidInput("A what-if period may span at most ten years.", "to")
    return (datetime.combine(start, time.min, timezone.utc),
            datetime.combine(end + timedelta(days=1), time.min, timezone.utc))


def _actual(currency: str, lo: datetime, hi: datetime) -> dict:
    count, positive, cost = db.session.execute(
        db.select(func.count(Reward.id), func.count(Reward.id).filter(Reward.value > 0),
                  func.coalesce(func.sum(Reward.value), 0))
        .join(Sale, Sale.id == Reward.sale_id)
        .where(Reward.currency == currency, Sale.occurred_at >= lo, Sale.occurred_at < hi)).one()
    return {"qualified": int(count), "rewards": int(positive), "cost": int(cost)}


def _real_rewards(referral_ids: list[int], before: datetime) -> tuple[dict[int, Reward], set[int]]:
    """The referrals' real rewards, and which referrals earned theirs with a sale before `before`."""
    rewards, earlier = {}, set()
    for chunk in chunks(referral_ids, CHUNK):
        for reward, occurred_at in db.session.execute(
                select(Reward, Sale.occurred_at).join(Sale, Sale.id == Reward.sale_id)
                .where(among(Reward.referral_id, chunk))):
            rewards[reward.referral_id] = reward
            if occurred_at < before:  # it had its one reward before the replay starts
                earlier.add(reward.referral_id)
    return rewards, earlier


def _events(rows: list, real: dict[int, Reward]) -> list[tuple]:
    """The grants and refunds as they happened: each (when, order, tie, kind, what, sale, referral).

    A referral was weighed when its real reward was granted (reward ids break ties within one bulk grant),
    else when its sale landed; a refund counts from when it was recorded, or from when its sale landed if it
    came first. At one moment refunds go first: a grant then sees them in the net sale, as the real one did.
    """
    events = []
    for sale, referral in rows:
        reward = real.get(referral.id)
        if reward is not None and reward.sale_id == sale.id:
            events.append((reward.created_at, 1, reward.id, "sale", sale, sale, referral))
        else:
            events.append((sale.created_at, 1, 1 << 62, "sale", sale, sale, referral))
        for refund in sale.refunds:
            events.append((max(refund.created_at, sale.created_at), 0, refund.id, "refund", refund, sale, referral))
    return sorted(events, key=lambda event: event[:3])


def _replay(candidate: Program, rows: list, real: dict[int, Reward], done: set[int]) -> dict[int, list]:
    """{sale_id: [value, tier, reversed, year key]} of the candidate's rewards, grants and refunds replayed in order."""
    window = timedelta(days=candidate.attribution_days)
    years: dict[tuple, Year] = defaultdict(Year)
    refunded: dict[int, int] = defaultdict(int)
    granted: dict[int, list] = {}
    for _, _, _, kind, what, sale, referral in _events(rows, real):
        key = (referral.referrer_id, year_bounds(sale.occurred_at)[0])
        if kind == "refund":
            refunded[sale.id] += what.amount
            reward = granted.get(sale.id)
            if reward is not None and not reward[2]:
                after = rules.refund(candidate, reward[1], sale.amount - refunded[sale.id], reward[0], False,
                                     years[key])
                years[key], reward[0], reward[2] = after.year, after.value, after.reversed
            continue
        if referral.id in done or not referral.created_at <= sale.occurred_at <= referral.created_at + window:
            continue
        grant = rules.grant(candidate, sale.amount - refunded[sale.id], refunded[sale.id] > 0, years[key])
        if grant is None:
            continue
        done.add(referral.id)
        years[key] = grant.year
        granted[sale.id] = [0 if grant.reversed else grant.amount, grant.tier_from_referral, grant.reversed, key]
    return granted


def _run(candidate: Program, lo: datetime, hi: datetime) -> tuple[list, dict[int, Reward], dict[int, list]]:
    """The referred sales from the start of lo's year to hi, the real rewards, and the candidate's replay."""
    rows = db.session.execute(
        select(Sale, Referral).join(Referral, Referral.id == Sale.referral_id)
        .where(Sale.currency == candidate.currency, Sale.occurred_at >= year_bounds(lo)[0], Sale.occurred_at < hi,
               Referral.status != "rejected")
        .options(selectinload(Sale.refunds)).order_by(Sale.occurred_at, Sale.id)).all()
    real, done = _real_rewards(sorted({referral.id for _, referral in rows}), year_bounds(lo)[0])
    return rows, real, _replay(candidate, rows, real, done)


def what_if(candidate: Program, start: date, end: date) -> dict:
    """Referred sales of [start, end] in the candidate's currency: real rewards vs. the candidate's.

    The candidate replays, from the start of the period's first year (so tiers and the yearly cap see the
    year so far), every grant and refund in the order they happened, through the same rule as the real
    grants (rules.grant, rules.refund): the rules in force reproduce the real cost. A referral counts once,
    with its first sale inside the attribution window that the rules accept when it is weighed; referrals
    rejected by a check or a coordinator stay out. Refunds count as before payout (a clawback after payout
    keeps a reward's tier count; the replay does not know the payouts).
    """
    lo, hi = _period(start, end)
    rows, real, replayed = _run(candidate, lo, hi)
    sales = {sale.id: sale for sale, _ in rows}
    figures = {"qualified": 0, "rewards": 0, "cost": 0}
    for sale_id, (value, _, _, _) in replayed.items():
        if sales[sale_id].occurred_at >= lo:
            figures["qualified"] += 1
            figures["rewards"] += value > 0
            figures["cost"] += value
    return {"currency": candidate.currency, "from_date": start, "to_date": end,
            "sales": sum(1 for sale in sales.values() if sale.occurred_at >= lo),
            "actual": _actual(candidate.currency, lo, hi), "candidate": figures}


def changed_referrals(candidate: Program, start: date, end: date, limit: int = 100) -> tuple[list[dict], int]:
    """The period's referrals whose reward the candidate would change, biggest change first (at most `limit`),
    and how many there are: each {referral, sale, real, candidate} (values in minor units, 0 for no reward)."""
    lo, hi = _period(start, end)
    rows, real, replayed = _run(candidate, lo, hi)
    changes = []
    for sale, referral in rows:
        if sale.occurred_at < lo:
            continue
        reward = real.get(referral.id)
        actual = reward.value if reward is not None and reward.sale_id == sale.id else 0
        proposed = replayed[sale.id][0] if sale.id in replayed else 0
        if actual != proposed:
            changes.append({"referral": referral, "sale": sale, "real": actual, "candidate": proposed})
    changes.sort(key=lambda change: (-abs(change["candidate"] - change["real"]), change["sale"].occurred_at))
    return changes[:limit], len(changes)
