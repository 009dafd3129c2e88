"""CSV import of sales: streamed row by row, stored in batches, each row all-or-nothing, then weighed.

Each row is cleaned and hashed as an API sale is (clean_sale) and leaves the same audit events
(`sale.recorded`, `refund.applied` for a refund that came first), written in bulk.
"""
import csv
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import sqlite

from rewards import audit
from rewards.bulk import analyze
from rewards.errors import InvalidInput
from rewards.extensions import db
from rewards.sales.models import Refund, Sale
from rewards.sales.rows import clean_sale
from rewards.sales.validation import revalidate

REQUIRED = ("external_id", "email", "amount", "currency", "occurred_at")
OPTIONAL = ("referral_code", "phone", "payment_fingerprint")
BATCH = 5000
ANALYZE_AFTER = 10000  # new sales; a bulk load this large leaves the table's planner statistics behind
MAX_LISTED_ERRORS = 10000


@dataclass
class ImportReport:
    created: int = 0
    duplicates: int = 0
    errors: list = field(default_factory=list)
    error_count: int = 0
    first_sale_id: int | None = None
    outcomes: dict = field(default_factory=dict)

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append({"line": line, "message": message})


def _columns(header: list) -> dict:
    names = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise InvalidInput(f"The CSV header must name {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)}); "
                           f"missing: {', '.join(missing)}.", "file")
    return {name: names.index(name) for name in REQUIRED + OPTIONAL if name in names}


def import_sales(text, on_batch=None, on_progress=None, weigh: bool = True) -> ImportReport:
    """Import sales from a CSV text stream (not committed; `on_batch` runs after each stored batch).

    Lines are numbered as in the file (the header is line 1).
    """
    reader = csv.reader(text)
    try:
        columns = _columns(next(reader))
    except StopIteration:
        raise InvalidInput("The file is empty; the first line must be the CSV header.", "file") from None
    report, batch, seen = ImportReport(), [], {}
    width = max(columns.values()) + 1
    for record in _records(reader, report):
        line = reader.line_num
        if on_progress:
            on_progress(1)
        if not any(cell.strip() for cell in record):
            continue
        if len(record) < width:
            report.error(line, f"Expected at least {width} fields, found {len(record)}.")
            continue
        try:
            row = clean_sale({name: record[index] for name, index in columns.items()})
        except InvalidInput as exc:
            report.error(line, f"{exc.field}: {exc.message}" if exc.field else exc.message)
            continue
        earlier = seen.get(row["external_id"])
        if earlier is not None:
            _repeat(report, line, earlier == row["content_hash"])
            continue
        seen[row["external_id"]] = row["content_hash"]
        batch.append((line, row))
        if len(batch) >= BATCH:
            _store(batch, report, on_batch)
            batch, seen = [], {}
    _store(batch, report, on_batch)
    if report.created >= ANALYZE_AFTER:
        analyze(Sale.__table__)
        if on_batch:  # ends the transaction, and with it the lock ANALYZE takes (one at a time per table)
            on_batch()
    if report.created:
        audit.record("sales.imported", None, {"created": report.created, "duplicates": report.duplicates,
                                              "errors": report.error_count}, entity_type="sales")
        if weigh:
            report.outcomes = dict(revalidate(since_sale_id=report.first_sale_id))
    return report


def _records(reader, report: ImportReport):
    """The reader's records; a line the csv module cannot read (a field past its size limit) is an error, not the end."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.error(reader.line_num, f"Unreadable CSV line: {exc}.")


def _repeat(report: ImportReport, line: int, same: bool) -> None:
    if same:
        report.duplicates += 1
    else:
        report.error(line, "external_id: A sale with this external_id was already recorded with different content.")


COLUMNS = ("external_id", "email", "phone", "amount", "currency", "occurred_at", "referral_code",
           "payment_fingerprint", "content_hash")


def _insert_rows(batch: list) -> list:
    """Insert the batch, skipping external ids already stored: [(id, external_id)] of the new rows."""
    if db.engine.dialect.name == "postgresql":
        return _copy_rows(batch)
    table = Sale.__table__
    statement = (sqlite.insert(table).on_conflict_do_nothing(index_elements=["external_id"])
                 .returning(table.c.id, table.c.external_id))
    return db.session.execute(statement, [{**row, "source": "csv"} for _, row in batch]).all()


def _copy_rows(batch: list) -> list:
    """PostgreSQL: COPY into a temporary table, then one INSERT … SELECT (many times faster than VALUES lists)."""
    cursor = db.session.connection().connection.driver_connection.cursor()
    columns = ", ".join(COLUMNS)
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS sales_import AS SELECT {columns} FROM sales WITH NO DATA")
    cursor.execute("TRUNCATE sales_import")
    with cursor.copy(f"COPY sales_import ({columns}) FROM STDIN") as copy:
        for _, row in batch:
            copy.write_row([row[name] for name in COLUMNS])
    cursor.execute(f"INSERT INTO sales ({columns}, source, created_at) SELECT {columns}, 'csv', now() "
                   f"FROM sales_import ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id")
    return cursor.fetchall()


def _store(batch: list, report: ImportReport, on_batch) -> None:
    """Insert a batch in one statement; rows whose external_id exists are duplicates or conflicts."""
    if not batch:
        return
    inserted = {external_id: sale_id for sale_id, external_id in _insert_rows(batch)}
    report.created += len(inserted)
    audit.record_many([("sale.recorded", "sales", inserted[row["external_id"]], {
        "external_id": row["external_id"], "source": "csv", "amount": row["amount"], "currency": row["currency"]})
        for _, row in batch if row["external_id"] in inserted])
    if inserted:
        first = min(inserted.values())
        report.first_sale_id = first if report.first_sale_id is None else min(report.first_sale_id, first)
        _apply_waiting_refunds(inserted)
    rest = [(line, row) for line, row in batch if row["external_id"] not in inserted]
    if rest:
        stored = dict(db.session.execute(select(Sale.external_id, Sale.content_hash).where(
            Sale.external_id.in_([row["external_id"] for _, row in rest]))).all())
        for line, row in rest:
            _repeat(report, line, stored.get(row["external_id"]) == row["content_hash"])
    if on_batch:
        on_batch()


def _apply_waiting_refunds(inserted: dict) -> None:
    """Refunds that arrived before these sales now belong to them."""
    # Usually there are none: one cheap look saves matching thousands of ids against an empty set.
    if db.session.scalar(select(Refund.id).where(Refund.sale_id.is_(None)).limit(1)) is None:
        return
    waiting = db.session.execute(select(Refund.id, Refund.sale_ref).where(
        Refund.sale_id.is_(None), Refund.sale_ref.in_(list(inserted)))).all()
    if waiting:
        table = Refund.__table__
        db.session.execute(update(table).where(table.c.id == bindparam("rid")).values(sale_id=bindparam("sid")),
                           [{"rid": refund_id, "sid": inserted[ref]} for refund_id, ref in waiting])
        audit.record_many([("refund.applied", "refunds", refund_id, {"sale_id": inserted[ref]})
                           for refund_id, ref in waiting])
