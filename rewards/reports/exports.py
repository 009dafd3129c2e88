"""The CSV exports of the contract (journal, referrers, payouts) and a referrer's yearly statement, each a Report
read from a server-side cursor. Amounts are integers in minor units; `formatted` adds currency-unit columns after
the contract's."""
from datetime import date

from sqlalchemy import DateTime, func, literal, or_, type_coerce, union_all

from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction
from rewards.money import format_amount
from rewards.payouts.models import PayoutItem, PayoutReversal
from rewards.reports import figures
from rewards.reports.csvfile import Report, number, text, utc_iso

# Rows fetched from the server-side cursor at a time: big enough to keep round trips rare, small enough for memory.
YIELD_PER = 5000

JOURNAL_HEADER = ["posted_at", "transaction_id", "kind", "account", "customer_id", "currency", "debit", "credit", "memo"]
REFERRERS_HEADER = ["customer_id", "customer_email", "currency", "rewards_earned", "rewards_reversed", "paid"]
STATEMENT_HEADER = ["posted_at", "transaction_id", "kind", "reward_id", "currency", "rewards_earned",
                    "rewards_reversed", "paid", "memo"]


def streamed(stmt, entities: bool = False):
    """The statement's rows in batches from a server-side cursor (yield_per), run when the report is read.
    Plain columns go through Core (no ORM row loading); `entities` when the statement selects models."""
    def batches():
        if entities:
            return db.session.execute(stmt.execution_options(yield_per=YIELD_PER)).partitions()
        # A statement option, not a connection one: the session's connection must not stay in streaming mode.
        return db.session.connection().execute(stmt.execution_options(yield_per=YIELD_PER)).partitions()
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


def journal(first: date, last: date, formatted: bool = False) -> Report:
    """Every ledger leg posted in [first, last + 1 day) UTC, one row each; the ledger's amounts are credit-positive,
    so a negative leg is a debit. Each transaction's debits equal its credits."""
    start, end = figures.period_bounds(first, last)
    stmt = (db.select(utc(figures.posted_at), LedgerTransaction.id, LedgerTransaction.kind, Account.key,
                      Account.customer_id, LedgerEntry.currency, LedgerEntry.amount, LedgerTransaction.memo)
            .select_from(LedgerEntry)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .join(Account, Account.id == LedgerEntry.account_id)
            .where(figures.posted_at >= start, figures.posted_at < end)
            .order_by(figures.posted_at, LedgerTransaction.id, LedgerEntry.id))

    def line(r):
        posted, tx, kind, account, customer, currency, amount, memo = r
        debit, credit = (-amount, None) if amount < 0 else (None, amount)
        extra = ""
        if formatted:
            extra = "," + ",".join(format_amount(value, currency) if value is not None else ""
                                   for value in (debit, credit))
        return (f"{utc_iso(posted)},{tx},{text(kind)},{text(account)},{number(customer)},{currency},"
                f"{number(debit)},{number(credit)},{text(memo)}{extra}\r\n")

    return Report(_formatted(JOURNAL_HEADER, ["debit", "credit"], formatted), streamed(stmt), line, counted(stmt))


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
    stmt = yearly_totals(year)

    def line(r):
        customer, email, currency, *amounts = r
        amounts = [int(value) for value in amounts]
        cells = [str(customer), text(email), currency, *map(str, amounts)]
        if formatted:
            cells += [format_amount(value, currency) for value in amounts]
        return ",".join(cells) + "\r\n"

    return Report(_formatted(REFERRERS_HEADER, figures.FIGURES, formatted), streamed(stmt), line, counted(stmt))


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
    """SELECT the settled payout items of [first, last + 1 day) UTC (manual ones with no transfer id), and each
    transfer reversal of the period as a row of its own with a negative amount, in time order."""
    start, end = figures.period_bounds(first, last)
    paid = (db.select(PayoutItem.paid_at.label("paid_at"), PayoutItem.batch_id, PayoutItem.id.label("item_id"),
                      PayoutItem.customer_id, Customer.email.label("customer_email"), PayoutItem.amount.label("amount"),
                      PayoutItem.currency,
                      PayoutItem.stripe_transfer_id.label("stripe_transfer_id"), literal(0).label("reversal"),
                      PayoutItem.id.label("row_id"))
            .join(Customer, Customer.id == PayoutItem.customer_id)
            .where(PayoutItem.status == "paid", PayoutItem.paid_at >= start, PayoutItem.paid_at < end))
    taken_back = (db.select(PayoutReversal.created_at, PayoutItem.batch_id, PayoutItem.id, PayoutItem.customer_id,
                            Customer.email, -PayoutReversal.amount, PayoutItem.currency,
                            PayoutReversal.stripe_transfer_id, literal(1), PayoutReversal.id)
                  .join(PayoutItem, PayoutItem.id == PayoutReversal.item_id)
                  .join(Customer, Customer.id == PayoutItem.customer_id)
                  .where(PayoutReversal.created_at >= start, PayoutReversal.created_at < end))
    rows = union_all(paid, taken_back).subquery()
    return (db.select(utc(rows.c.paid_at), *[rows.c[name] for name in PAYOUTS_HEADER[1:]])
            .order_by(rows.c.paid_at, rows.c.reversal, rows.c.row_id))


def payouts(first: date, last: date, formatted: bool = False) -> Report:
    """The contract's payouts.csv: what reached referrers in the period, and what came back."""
    stmt = payout_rows(first, last)

    def line(r):
        paid_at, batch, item, customer, email, amount, currency, transfer = r
        extra = "," + format_amount(amount, currency) if formatted else ""
        return (f"{utc_iso(paid_at)},{batch},{item},{customer},{text(email)},{amount},{currency},{text(transfer)}"
                f"{extra}\r\n")

    return Report(_formatted(PAYOUTS_HEADER, ["amount"], formatted), streamed(stmt), line, counted(stmt))
