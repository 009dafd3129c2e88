"""The reports part of finance's home: payouts per month per currency (the ledger's `paid`), who needs a tax form."""
from datetime import date

from sqlalchemy import func

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.ledger.models import Account
from rewards.money import format_amount
from rewards.reports import figures, reconciliation, yearly

MONTHS = 12


def _month():
    """YYYY-MM of the posting time (UTC), in this database's dialect."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", figures.posted_at), "YYYY-MM")
    return func.strftime("%Y-%m", figures.posted_at)


def month_starts(last: date, months: int = MONTHS) -> list[date]:
    """The first days of the `months` months ending with `last`'s month, oldest first."""
    firsts, year, month = [], last.year, last.month
    for _ in range(months):
        firsts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return firsts[::-1]


def paid_per_month(today: date | None = None) -> dict:
    """{labels: [YYYY-MM…], series: {currency: [paid per month, minor units…]}, units: the same in currency units}
    over the last MONTHS months, by the `paid` figure."""
    today = today or utcnow().date()
    firsts = month_starts(today)
    start, end = figures.period_bounds(firsts[0], today)
    month = _month()
    rows = db.session.execute(
        figures.legs_in(start, end, month, Account.currency, func.sum(figures.paid_leg()))
        .where(Account.kind == "paid_out").group_by(month, Account.currency))
    labels = [first.strftime("%Y-%m") for first in firsts]
    series: dict[str, list[int]] = {}
    for label, currency, paid in rows:
        series.setdefault(currency, [0] * len(labels))[labels.index(label)] = int(paid)
    series = dict(sorted(series.items()))
    # For the chart only: currency units as decimal strings ("12.34"), which Chart.js reads as numbers.
    units = {currency: [format_amount(value, currency) for value in values] for currency, values in series.items()}
    return {"labels": labels, "series": series, "units": units}


def finance_reports(year: int | None = None) -> dict:
    """What the reports section of /finance shows."""
    today = utcnow().date()
    year = year or today.year
    over, count = yearly.over_threshold_page(year, 1, 10)
    return {"today": today, "year": year, "month_start": today.replace(day=1), "paid_chart": paid_per_month(today),
            "over_threshold": over, "over_threshold_count": count, "last_reconciliation": reconciliation.last_run()}
