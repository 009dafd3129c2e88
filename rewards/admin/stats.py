"""The dashboard's figures: referrals in a period by status, conversion, rewards, top referrers, funnel, trend."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import case, func, or_, select

from rewards.clock import utcnow
from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.programs.models import Reward
from rewards.referrals.models import STATUSES, Referral
from rewards.sales.models import Sale

PERIODS = {7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days", 365: "Last 12 months"}
DEFAULT_DAYS = 30
# Longer periods are drawn month by month, so a chart never has hundreds of points.
DAILY_UP_TO_DAYS = 120


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive
    days: int | None  # the preset chosen, or None for a custom range

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def period_from(days: int | None = None, first: date | None = None, last: date | None = None) -> Period:
    """A custom range (whole UTC days, both ends included) when given, else the last `days` days up to today."""
    today = utcnow().date()
    if first or last:
        last = last or today
        first = first or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            first, last = last, first
        return Period(midnight(first), midnight(last + timedelta(days=1)), None)
    days = days if days in PERIODS else DEFAULT_DAYS
    return Period(midnight(today - timedelta(days=days - 1)), midnight(today + timedelta(days=1)), days)


def _in(period: Period):
    return (Referral.created_at >= period.start, Referral.created_at < period.end)


def referrals_by_status(period: Period) -> dict[str, int]:
    rows = db.session.execute(select(Referral.status, func.count()).where(*_in(period)).group_by(Referral.status))
    counts = dict(rows.all())
    return {status: counts.get(status, 0) for status in STATUSES}


def conversion_rate(counts: dict[str, int]) -> float | None:
    """Qualified ÷ all referrals made in the period, in percent (None when there are none)."""
    total = sum(counts.values())
    return round(100 * counts["qualified"] / total, 1) if total else None


def reward_totals() -> list[dict]:
    """Per currency, in minor units: held (still waiting), payable (hold over), paid. As of now, not per period."""
    now = utcnow()
    payable = or_(Reward.status == "payable", (Reward.status == "held") & (Reward.payable_at <= now))
    held = (Reward.status == "held") & (Reward.payable_at > now)

    def total(condition):
        return func.coalesce(func.sum(case((condition, Reward.amount), else_=0)), 0)

    rows = db.session.execute(
        select(Reward.currency, total(held), total(payable), total(Reward.status == "paid"))
        .where(Reward.status.in_(("held", "payable", "paid"))).group_by(Reward.currency).order_by(Reward.currency))
    return [{"currency": c, "held": h, "payable": p, "paid": paid} for c, h, p, paid in rows]


def top_referrers(period: Period, limit: int = 5) -> list[dict]:
    """Who referred most in the period, with how many of those qualified."""
    qualified = func.sum(case((Referral.status == "qualified", 1), else_=0))
    ranked = (select(Referral.referrer_id, func.count().label("referrals"), qualified.label("qualified"))
              .where(*_in(period)).group_by(Referral.referrer_id)
              .order_by(func.count().desc(), qualified.desc(), Referral.referrer_id).limit(limit).subquery())
    rows = db.session.execute(select(Customer.id, Customer.name, Customer.email, ranked.c.referrals, ranked.c.qualified)
                              .join(ranked, ranked.c.referrer_id == Customer.id)
                              .order_by(ranked.c.referrals.desc(), ranked.c.qualified.desc(), Customer.id))
    return [{"id": i, "name": n, "email": e, "referrals": r, "qualified": q or 0} for i, n, e, r, q in rows]


def funnel(period: Period, counts: dict[str, int]) -> list[tuple[str, int]]:
    """Referred → bought (a sale matched) → qualified → reward paid, for referrals made in the period."""
    # One pass over the period's referrals that have a sale: a paid reward always has one.
    paid_reward = case((Reward.status == "paid", Reward.id))
    bought, paid = db.session.execute(
        select(func.count(func.distinct(Sale.referral_id)), func.count(func.distinct(paid_reward)))
        .join(Referral, Referral.id == Sale.referral_id)
        .outerjoin(Reward, Reward.referral_id == Sale.referral_id).where(*_in(period))).one()
    return [("Referred", sum(counts.values())), ("Bought", bought or 0),
            ("Qualified", counts["qualified"]), ("Reward paid", paid or 0)]


def _bucket(daily: bool):
    """A UTC day ('YYYY-MM-DD') or month ('YYYY-MM') label for created_at, in this database's dialect."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Referral.created_at), "YYYY-MM-DD" if daily else "YYYY-MM")
    return func.strftime("%Y-%m-%d" if daily else "%Y-%m", Referral.created_at)


def trend(period: Period) -> dict:
    """Referrals made and (of those) qualified per day, or per month for long periods; empty buckets are zero."""
    daily = (period.end - period.start).days <= DAILY_UP_TO_DAYS
    bucket = _bucket(daily).label("bucket")
    rows = db.session.execute(select(bucket, func.count(), func.sum(case((Referral.status == "qualified", 1), else_=0)))
                              .where(*_in(period)).group_by(bucket)).all()
    found = {label: (made, qualified or 0) for label, made, qualified in rows}
    labels = _labels(period, daily)
    return {"labels": labels, "referred": [found.get(label, (0, 0))[0] for label in labels],
            "qualified": [found.get(label, (0, 0))[1] for label in labels]}


def _labels(period: Period, daily: bool) -> list[str]:
    labels, day = [], period.first_day
    while day <= period.last_day:
        label = day.isoformat() if daily else day.strftime("%Y-%m")
        if not labels or labels[-1] != label:
            labels.append(label)
        day += timedelta(days=1)
    return labels


def dashboard(period: Period) -> dict:
    """Everything the dashboard shows, for one period."""
    counts = referrals_by_status(period)
    return {"counts": counts, "total": sum(counts.values()), "conversion": conversion_rate(counts),
            "rewards": reward_totals(), "top": top_referrers(period), "funnel": funnel(period, counts),
            "trend": trend(period)}
