"""What-if: a candidate rule set run over a period's referred sales, beside what the real rules did."""
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func
from sqlalchemy.orm import selectinload

from rewards.errors import InvalidInput
from rewards.extensions import db
from rewards.programs.models import Program, Reward
from rewards.programs.rules import qualifies, rule_amount, tier_for, within_yearly_cap
from rewards.programs.service import net_amount
from rewards.referrals.models import Referral
from rewards.sales.models import Sale


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


def _year_so_far(currency: str, lo: datetime) -> tuple[dict, dict]:
    """Per (referrer, year): the real rewards of the period's first year before it starts (for tiers and caps)."""
    start = datetime(lo.year, 1, 1, tzinfo=timezone.utc)
    rows = db.session.execute(
        db.select(Reward.referrer_id, func.count(Reward.id).filter(Reward.status != "reversed"),
                  func.coalesce(func.sum(Reward.value), 0))
        .join(Sale, Sale.id == Reward.sale_id)
        .where(Reward.currency == currency, Sale.occurred_at >= start, Sale.occurred_at < lo)
        .group_by(Reward.referrer_id))
    counts, totals = defaultdict(int), defaultdict(int)
    for referrer_id, count, total in rows:
        counts[(referrer_id, lo.year)], totals[(referrer_id, lo.year)] = int(count), int(total)
    return counts, totals


def what_if(candidate: Program, start: date, end: date) -> dict:
    """Referred sales of [start, end] in the candidate's currency: real rewards vs. the candidate's.

    A referral counts once, with its first sale inside the attribution window that the rules accept;
    referrals rejected by a check or a coordinator stay out, and refunds are netted as the real rules do.
    """
    lo, hi = _period(start, end)
    rows = db.session.execute(
        db.select(Sale, Referral).join(Referral, Referral.id == Sale.referral_id)
        .where(Sale.currency == candidate.currency, Sale.occurred_at >= lo, Sale.occurred_at < hi,
               Referral.status != "rejected")
        .options(selectinload(Sale.refunds)).order_by(Sale.occurred_at, Sale.id)).all()
    done = set(db.session.scalars(
        db.select(Reward.referral_id).join(Sale, Sale.id == Reward.sale_id).where(Sale.occurred_at < lo)))
    counts, totals = _year_so_far(candidate.currency, lo)
    figures = {"qualified": 0, "rewards": 0, "cost": 0}
    window = timedelta(days=candidate.attribution_days)
    for sale, referral in rows:
        net = net_amount(sale)
        if referral.id in done or not referral.created_at <= sale.occurred_at <= referral.created_at + window \
                or not qualifies(candidate, net):
            continue
        done.add(referral.id)
        key = (referral.referrer_id, sale.occurred_at.year)
        tier = tier_for(candidate, counts[key] + 1)
        amount = within_yearly_cap(candidate, rule_amount(candidate, tier, net), totals[key])
        counts[key] += 1
        totals[key] += amount
        figures["qualified"] += 1
        figures["rewards"] += amount > 0
        figures["cost"] += amount
    return {"currency": candidate.currency, "from_date": start, "to_date": end, "sales": len(rows),
            "actual": _actual(candidate.currency, lo, hi), "candidate": figures}
