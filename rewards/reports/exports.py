"""The CSV exports of the contract (journal, referrers, payouts) and a referrer's yearly statement, each a Report
read from a server-side cursor. Amounts are integers in minor units; `formatted` adds currency-unit columns after
the contract's."""
from datetime import date

from sqlalchemy import DateTime, case, func, literal, null, or_, type_coerce, union_all

from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction
from rewards.money import format_amount
from rewards.payouts.models import PayoutItem, PayoutReversal
from rewards.reports import figures
from rewards.reports.csvfile import (LINE_END, Report, csv_line, database_line, number, number_cell, text, text_cell,
                                     time_cell, utc_iso)

# Rows fetched from the server-side cursor at a time: big enough to keep round trips rare, small enough for memory.
YIELD_PER = 5000

JOURNAL_HEADER = ["posted_at", "transaction_id", "kind", "account", "customer_id", "currency", "debit", "credit", "memo"]
REFERRERS_HEADER = ["customer_id", "customer_email", "currency", "rewards_earned", "rewards_reversed", "paid"]
STATEMENT_HEADER = ["posted_at", "transaction_id", "kind", "reward_id", "currency", "rewards_earned",
                    "rewards_reversed", "paid", "memo"]


def streamed(stmt, entities: bool = False, scalars: bool = False):
    """The statement's rows in batches from a server-side cursor (yield_per), run when the report is read.
    Plain columns go through Core (no ORM row loading); `entities` when the statement selects models; `scalars`
    gives each row's one value rather than a row."""
    def batches():
        if entities:
            return db.session.execute(stmt.execution_options(yield_per=YIELD_PER)).partitions()
        # A statement option, not a connection one: the session's connection must not stay in streaming mode.
        result = db.session.connection().execute(stmt.execution_options(yield_per=YIELD_PER))
        return (result.scalars() if scalars else result).partitions()
    return batches


def utc(column):
    """The timestamp as a naive UTC datetime straight from the driver, without the aware-datetime conversion
    UTCDateTime makes per row (the CSV writes it with a `Z`)."""
    if db.engine.dialect.name == "postgresql":
        return func.timezone("UTC", column)
    return type_coerce(column, DateTime())


def counted(stmt):
    """How many rows the statement gives, for a progress bar."""
    return lambda: db.session.scalar(db.select(func.count()).select_from(stmt.order_by(None).subquery()))


def _formatted(header: list[str], columns: list[str], formatted: bool) -> list[str]:
    return header + [f"{name}_formatted" for name in columns] if formatted else header


def written_by_database(stmt, amounts: list, currency, formatted: bool) -> tuple:
    """(batches, line) of a Report whose lines the database writes: `stmt` selects just `csv_line(...)`. Formatted,
    it also selects the amounts and their currency, and `line` adds each amount formatted after the line."""
    if not formatted:
        return streamed(stmt, scalars=True), database_line
    count = len(amounts)

    def formatted_line(row):
        currency_code = row[count + 1]
        return row[0] + "".join("," + ("" if value is None else format_amount(value, currency_code))
                                for value in row[1:count + 1]) + LINE_END

    return streamed(stmt.add_columns(*amounts, currency)), formatted_line


def journal(first: date, last: date, formatted: bool = False) -> Report:
    """Every ledger leg posted in [first, last + 1 day) UTC, one row each; the ledger's amounts are credit-positive,
    so a negative leg is a debit. Each transaction's debits equal its credits."""
    start, end = figures.period_bounds(first, last)
    amount = LedgerEntry.amount
    debit, credit = case((amount < 0, -amount), else_=null()), case((amount > 0, amount), else_=null())
    stmt = (db.select(csv_line(time_cell(figures.posted_at), number_cell(LedgerTransaction.id),
                               text_cell(LedgerTransaction.kind), text_cell(Account.key),
                               number_cell(Account.customer_id), text_cell(LedgerEntry.currency), number_cell(debit),
                               number_cell(credit), text_cell(LedgerTransaction.memo)))
            .select_from(LedgerEntry)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .join(Account, Account.id == LedgerEntry.account_id)
            .where(figures.posted_at >= start, figures.posted_at < end)
            .order_by(figures.posted_at, LedgerTransaction.id, LedgerEntry.id))
    return Report(_formatted(JOURNAL_HEADER, ["debit", "credit"], formatted),
                  *written_by_database(stmt, [debit, credit], LedgerEntry.currency, formatted), counted(stmt))


def yearly_totals(year: int, customer_id: int | None = None):
    """SELECT customer_id, customer_email, currency, rewards_earned, rewards_reversed, paid for the calendar year
    (UTC), one row per referrer and currency with any of the three, by customer id then currency."""
    start, end = figures.year_period(year)
    earned, reversed_, paid = figures.totals()
    stmt = (figures.legs_in(start, end, Account.customer_id, Customer.email, Account.currency,
                            earned.label("rewards_earned"), reversed_.label("rewards_reversed"), paid.label("paid"))
            .join(Customer, Customer.id == Account.customer_id)
            .group_by(Account.customer_id, Customer.email, Account.currency)
            .having(or_(earned != 0, reversed_ != 0, paid != 0))
            .order_by(Account.customer_id, Account.currency))
    if customer_id is not None:
        stmt = stmt.where(Account.customer_id == customer_id)
    return stmt


def referrers(year: int, formatted: bool = False) -> Report:
    """Yearly totals per referrer and currency (the contract's referrers.csv)."""
    totals = yearly_totals(year).subquery()
    amounts = [totals.c[name] for name in figures.FIGURES]
    stmt = (db.select(csv_line(number_cell(totals.c.customer_id), text_cell(totals.c.email),
                               text_cell(totals.c.currency), *map(number_cell, amounts)))
            .order_by(totals.c.customer_id, totals.c.currency))
    return Report(_formatted(REFERRERS_HEADER, figures.FIGURES, formatted),
                  *written_by_database(stmt, amounts, totals.c.currency, formatted), counted(stmt))


def statement_lines(customer_id: int, year: int):
    """SELECT the referrer's legs of the year that count in a figure: each reward earned, reduced, reversed or
    clawed back, each payout and transfer reversal, oldest first."""
    start, end = figures.year_period(year)
    earned, reversed_, paid = figures.leg_figures()
    return (figures.legs_in(start, end, utc(figures.posted_at).label("posted_at"),
                            LedgerTransaction.id.label("transaction_id"), LedgerTransaction.kind,
                            LedgerEntry.reward_id, LedgerEntry.currency, earned.label("rewards_earned"),
                            reversed_.label("rewards_reversed"), paid.label("paid"), LedgerTransaction.memo)
            .where(Account.customer_id == customer_id, or_(earned != 0, reversed_ != 0, paid != 0))
            .order_by(figures.posted_at, LedgerTransaction.id, LedgerEntry.id))


def statement(customer_id: int, year: int, formatted: bool = False) -> Report:
    """A referrer's statement for a year as CSV: one row per line of the printable statement."""
    stmt = statement_lines(customer_id, year)

    def line(r):
        posted, tx, kind, reward, currency, *amounts, memo = r
        amounts = [int(value) for value in amounts]
        cells = [utc_iso(posted), str(tx), text(kind), number(reward), currency, *map(str, amounts), text(memo)]
        if formatted:
            cells += [format_amount(value, currency) for value in amounts]
        return ",".join(cells) + "\r\n"

    return Report(_formatted(STATEMENT_HEADER, figures.FIGURES, formatted), streamed(stmt), line, counted(stmt))


PAYOUTS_HEADER = ["paid_at", "batch_id", "item_id", "customer_id", "customer_email", "amount", "currency",
                  "stripe_transfer_id"]


def payout_rows(first: date, last: date):
    """The payout items settled in [first, last + 1 day) UTC (manual ones with no transfer id), and each transfer
    reversal of the period as a row of its own with a negative amount, each dated as the ledger dates it (Stripe's
    `created` for a transfer or a reversal, so the rows add up to `paid`): a subquery with the columns of payouts.csv,
    then `reversal` and `row_id`, which with `paid_at` give the file's order (PAYOUTS_ORDER)."""
    start, end = figures.period_bounds(first, last)
    paid = (db.select(PayoutItem.paid_at.label("paid_at"), PayoutItem.batch_id, PayoutItem.id.label("item_id"),
                      PayoutItem.customer_id, Customer.email.label("customer_email"), PayoutItem.amount.label("amount"),
                      PayoutItem.currency,
                      PayoutItem.stripe_transfer_id.label("stripe_transfer_id"), literal(0).label("reversal"),
                      PayoutItem.id.label("row_id"))
            .join(Customer, Customer.id == PayoutItem.customer_id)
            .where(PayoutItem.status == "paid", PayoutItem.paid_at >= start, PayoutItem.paid_at < end))
    taken_back = (db.select(PayoutReversal.reversed_at, PayoutItem.batch_id, PayoutItem.id, PayoutItem.customer_id,
                            Customer.email, -PayoutReversal.amount, PayoutItem.currency,
                            PayoutReversal.stripe_transfer_id, literal(1), PayoutReversal.id)
                  .join(PayoutItem, PayoutItem.id == PayoutReversal.item_id)
                  .join(Customer, Customer.id == PayoutItem.customer_id)
                  .where(PayoutReversal.reversed_at >= start, PayoutReversal.reversed_at < end))
    return union_all(paid, taken_back).subquery()


PAYOUTS_ORDER = ("paid_at", "reversal", "row_id")


def payouts(first: date, last: date, formatted: bool = False) -> Report:
    """The contract's payouts.csv: what reached referrers in the period, and what came back, in time order. The
    database writes each line."""
    c = payout_rows(first, last).c
    stmt = (db.select(csv_line(time_cell(c.paid_at), number_cell(c.batch_id), number_cell(c.item_id),
                               number_cell(c.customer_id), text_cell(c.customer_email), number_cell(c.amount),
                               text_cell(c.currency), text_cell(c.stripe_transfer_id)))
            .order_by(*(c[name] for name in PAYOUTS_ORDER)))
    return Report(_formatted(PAYOUTS_HEADER, ["amount"], formatted),
                  *written_by_database(stmt, [c.amount], c.currency, formatted), counted(stmt))
