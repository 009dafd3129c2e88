"""Yearly totals for tax: who reached the reporting threshold, what tax details finance still lacks, and the one
export that carries tax ids in clear (explicitly requested, audited)."""
from dataclasses import dataclass

from sqlalchemy import and_, false, func, or_

from rewards import audit
from rewards.extensions import db
from rewards.reports import exports
from rewards.reports.csvfile import Report, text
from rewards.tax import service as tax
from rewards.tax.models import TaxDetails

TAX_EXPORT_HEADER = ["customer_id", "customer_email", "legal_name", "country", "tax_id", "currency",
                     "rewards_earned", "rewards_reversed", "paid"]


@dataclass
class TaxRow:
    customer_id: int
    customer_email: str
    currency: str
    rewards_earned: int
    rewards_reversed: int
    paid: int
    legal_name: str | None
    country: str | None
    tax_id_masked: str | None
    missing: list[str]


def over_threshold(year: int):
    """SELECT the year's totals (as yearly_totals) of referrers whose paid reaches their currency's threshold,
    with their TaxDetails (or None)."""
    totals = exports.yearly_totals(year).subquery()
    limits = tax.thresholds()
    reached = or_(false(), *(and_(totals.c.currency == currency, totals.c.paid >= amount)
                             for currency, amount in limits.items()))
    return (db.select(totals, TaxDetails)
            .outerjoin(TaxDetails, TaxDetails.customer_id == totals.c.customer_id)
            .where(reached).order_by(totals.c.customer_id, totals.c.currency))


def over_threshold_page(year: int, page: int = 1, per_page: int = 50) -> tuple[list[TaxRow], int]:
    """One page of the referrers needing a tax form, tax id masked and missing details named; and their number."""
    stmt = over_threshold(year)
    total = db.session.scalar(db.select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = []
    for row in db.session.execute(stmt.limit(per_page).offset((max(page, 1) - 1) * per_page)):
        details = row.TaxDetails
        rows.append(TaxRow(row.customer_id, row.email, row.currency, int(row.rewards_earned),
                           int(row.rewards_reversed), int(row.paid), details and details.legal_name,
                           details and details.country, tax.masked_tax_id(details), tax.missing(details)))
    return rows, total


def tax_export(year: int) -> Report:
    """The referrers needing a tax form with legal name, country and tax id in clear. Record it with
    record_tax_export: whoever asks for this file is named in the audit log."""
    stmt = over_threshold(year)

    def line(r):
        details = r.TaxDetails
        return ",".join([str(r.customer_id), text(r.email), text(details and details.legal_name),
                         text(details and details.country), text(tax.tax_id_in_clear(details)), r.currency,
                         str(int(r.rewards_earned)), str(int(r.rewards_reversed)), str(int(r.paid))]) + "\r\n"

    return Report(TAX_EXPORT_HEADER, exports.streamed(stmt, entities=True), line, exports.counted(stmt))


def record_tax_export(year: int, rows: int | None = None, via: str = "page") -> None:
    """The audit event of a tax export (not committed): who, when, from where, which year."""
    audit.record("reports.tax_export", None, {"year": year, "rows": rows, "via": via}, entity_type="tax_details")
