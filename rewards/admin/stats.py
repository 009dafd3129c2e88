"""The dashboard's figures: referrals in a period by status, conversion, rewards, top referrers, funnel, trend."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import case, func, literal_column, select

from rewards.clock import utcnow
from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.ledger.balances import balance_totals
from rewards.programs.models import Reward
from rewards.referrals.models import STATUSES, Referral
from rewards.sales.models import Sale

PERIODS = {7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days", 365: "Last 12 months"}
DEFAULT_DAYS = 30
# Longer periods are drawn month by month, so a chart never has hundreds of points.
DAILY_UP_TO_DAYS = 120
# A custom range is at most this long (ending on its last day): every figure's cost stays bounded.
MAX_PERIOD_DAYS = 5 * 366


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive
    days: int | None  # the preset chosen, or None for a custom range
    shortened: bool = False  # a custom range longer than MAX_PERIOD_DAYS, cut to its last MAX_PERIOD_DAYS days

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
        shortened = (last - first).days >= MAX_PERIOD_DAYS
        if shortened:
            first = last - timedelta(days=MAX_PERIOD_DAYS - 1)
        return Period(midnight(first), midnight(last + timedelta(days=1)), None, shortened)
    days = days if days in PERIODS else DEFAULT_DAYS
    return Period(midnight(today - timedelta(days=days - 1)), midnight(today + timedelta(days=1)), days)


def _in(period: Period):
    return (Referral.created_at >= period.start, Referral.created_at < period.end)


@dataclass(frozen=True)
class PeriodCounts:
    """The period's referrals counted in one pass: by status, per UTC day, and the range of their ids."""
    by_status: dict[str, int]
    per_day: dict[date, dict[str, int]]  # only days with referrals
    ids: tuple[int, int] | None  # (lowest, highest), None when there are none


def _day():
    """The UTC day of created_at, in this database's dialect (a date or a datetime at midnight)."""
    if db.engine.dialect.name == "postgresql":
        # date_bin is plain arithmetic on the timestamp, much cheaper per row than to_char or a time-zone shift.
        return func.date_bin(literal_column("interval '1 day'"), Referral.created_at,
                             literal_column("timestamptz '2000-01-01 00:00:00+00'"))
    return func.strftime("%Y-%m-%d", Referral.created_at)


def _as_date(value) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value.astimezone(timezone.utc).date()


def period_counts(period: Period) -> PeriodCounts:
    """One index-only pass over the period's referrals, grouped by day and status (a row per day and status)."""
    day = _day().label("day")
    rows = db.session.execute(
        select(day, Referral.status, func.count(), func.min(Referral.id), func.max(Referral.id))
        .where(*_in(period)).group_by(day, Referral.status)).all()
    by_status = dict.fromkeys(STATUSES, 0)
    per_day: dict[date, dict[str, int]] = {}
    for value, status, count, _, _ in rows:
        by_status[status] = by_status.get(status, 0) + count
        per_day.setdefault(_as_date(value), {})[status] = count
    ids = (min(row[3] for row in rows), max(row[4] for row in rows)) if rows else None
    return PeriodCounts({status: by_status[status] for status in STATUSES}, per_day, ids)


def conversion_rate(counts: dict[str, int]) -> float | None:
    """Qualified ÷ all referrals made in the period, in percent (None when there are none)."""
    total = sum(counts.values())
    return round(100 * counts["qualified"] / total, 1) if total else None


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


def funnel(period: Period, counts: PeriodCounts) -> list[tuple[str, int]]:
    """Referred → bought (a sale matched) → qualified → reward paid, for referrals made in the period."""
    bought = paid = 0
    if counts.ids:
        # Sales are reached through their referral_id index, bounded by the period's id range (exact: every referral
        # of the period lies in it; small: ids grow with created_at), then checked against the period itself.
        # A paid reward always has a sale.
        paid_reward = case((Reward.status == "paid", Reward.id))
        bought, paid = db.session.execute(
            select(func.count(func.distinct(Sale.referral_id)), func.count(func.distinct(paid_reward)))
            .join(Referral, Referral.id == Sale.referral_id)
            .outerjoin(Reward, Reward.referral_id == Sale.referral_id)
            .where(Sale.referral_id.between(*counts.ids), *_in(period))).one()
    return [("Referred", sum(counts.by_status.values())), ("Bought", bought or 0),
            ("Qualified", counts.by_status["qualified"]), ("Reward paid", paid or 0)]


def trend(period: Period, counts: PeriodCounts) -> dict:
    """Referrals made and (of those) qualified per day, or per month for long periods; empty buckets are zero."""
    daily = (period.end - period.start).days <= DAILY_UP_TO_DAYS
    labels = _labels(period, daily)
    referred, qualified = dict.fromkeys(labels, 0), dict.fromkeys(labels, 0)
    for day, by_status in counts.per_day.items():
        label = day.isoformat() if daily else day.strftime("%Y-%m")
        referred[label] += sum(by_status.values())
        qualified[label] += by_status.get("qualified", 0)
    return {"labels": labels, "referred": list(referred.values()), "qualified": list(qualified.values())}


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
    counts = period_counts(period)
    by_status = counts.by_status
    return {"counts": by_status, "total": sum(by_status.values()), "conversion": conversion_rate(by_status),
            "rewards": balance_totals(), "top": top_referrers(period), "funnel": funnel(period, counts),
            "trend": trend(period, counts)}
