"""Finance exports checked column by column against the ledger for a seeded history (tests/finance_data.py)."""
import csv
import io
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from rewards.extensions import db
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction
from rewards.payouts.models import PayoutReversal
from rewards.money import format_amount, format_money, to_minor_units
from rewards.dbtypes import UTCDateTime
from rewards.reports.csvfile import (neutralise, number, number_cell, text as csv_text, text_cell, time_cell,
                                     utc_iso)
from tests import finance_data
from tests.payouts_support import app_config, fake_stripe  # noqa: F401  (the app pointed at the fake Stripe)

YEAR = datetime.now(timezone.utc).year
THIS_YEAR = {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}


def read_csv(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def as_dicts(rows):
    return [dict(zip(rows[0], row)) for row in rows[1:]]


@pytest.fixture
def data(app, client, fake_stripe):
    return finance_data.seed(fake_stripe, client)


@pytest.fixture
def finance(api_as):
    return api_as("finance")


def iso(moment):
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"


@pytest.mark.parametrize("amount, currency, text, plain", [
    (123456, "usd", "1,234.56 USD", "1234.56"), (-5, "usd", "-0.05 USD", "-0.05"),
    (500, "jpy", "500 JPY", "500"), (1234567, "jpy", "1,234,567 JPY", "1234567"),
    (1234, "kwd", "1.234 KWD", "1.234"), (-1000, "bhd", "-1.000 BHD", "-1.000"), (0, "eur", "0.00 EUR", "0.00"),
])
def test_format_money_for_zero_two_and_three_decimal_currencies(amount, currency, text, plain):
    assert format_money(amount, currency) == text
    assert format_amount(amount, currency) == plain
    assert to_minor_units(plain, currency) == amount


@pytest.mark.parametrize("text, currency", [("1.5", "jpy"), ("1.234", "usd"), ("1.2345", "kwd"), ("ten", "usd")])
def test_to_minor_units_refuses_more_decimals_than_the_currency_has(text, currency):
    with pytest.raises(ValueError):
        to_minor_units(text, currency)


@pytest.mark.parametrize("text, shown", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain", "plain"), ("", ""), ("a=b", "a=b"),
])
def test_text_cells_that_a_spreadsheet_would_run_are_neutralised(text, shown):
    assert neutralise(text) == shown


@pytest.mark.parametrize("value, written", [
    ("a,b", '"a,b"'), ('say "hi"', '"say ""hi"""'), ("=1,2", '"\'=1,2"'), ("two\nlines", '"two\nlines"'),
    ("\rx", '"\'\rx"'), ("\tx", "'\tx"), ("-5 off", "'-5 off"), ("@x", "'@x"), ("+1", "'+1"), ("a=b", "a=b"),
    ("50%_off", "50%_off"), ("", ""), (None, ""), ("plain", "plain"),
])
def test_text_cells_are_quoted_as_rfc_4180_asks_after_neutralising(app, value, written):
    assert csv_text(value) == written
    if value:
        assert next(csv.reader(io.StringIO(written + "\r\n"))) == [neutralise(value)]
    # The big exports have the database write their cells: the same rule in SQL gives the same text.
    assert db.session.scalar(sa.select(text_cell(sa.literal(value, sa.String)))) == written


@pytest.mark.parametrize("value", [0, 7, -300, 123456789012, None])
def test_number_cells_are_the_same_from_python_and_the_database(app, value):
    assert db.session.scalar(sa.select(number_cell(sa.literal(value, sa.BigInteger)))) == number(value)


@pytest.mark.parametrize("moment", [
    datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc),
    datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=timezone.utc), datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=timezone.utc),
])
def test_times_leave_the_database_as_the_same_iso_text_python_writes(app, moment):
    assert db.session.scalar(sa.select(time_cell(sa.literal(moment, UTCDateTime())))) == utc_iso(moment) == iso(moment)


def test_journal_has_every_ledger_leg_with_its_columns(data, finance):
    rows = read_csv(finance.get("/api/v1/reports/journal.csv", query_string=THIS_YEAR))
    assert rows[0] == ["posted_at", "transaction_id", "kind", "account", "customer_id", "currency", "debit",
                       "credit", "memo"]
    legs = db.session.execute(
        sa.select(LedgerEntry, LedgerTransaction, Account).join(LedgerTransaction).join(Account)
        .order_by(LedgerTransaction.effective_at, LedgerTransaction.id, LedgerEntry.id)).all()
    assert len(rows) - 1 == len(legs) > 20
    for row, (entry, tx, account) in zip(as_dicts(rows), legs):
        assert row == {"posted_at": iso(tx.effective_at), "transaction_id": str(tx.id), "kind": tx.kind,
                       "account": account.key, "customer_id": str(account.customer_id or ""),
                       "currency": entry.currency,
                       "debit": str(-entry.amount) if entry.amount < 0 else "",
                       "credit": str(entry.amount) if entry.amount > 0 else "", "memo": tx.memo}
    # Debits equal credits in every transaction and currency.
    sums = {}
    for row in as_dicts(rows):
        key = (row["transaction_id"], row["currency"])
        sums[key] = sums.get(key, 0) + int(row["debit"] or 0) - int(row["credit"] or 0)
    assert set(sums.values()) == {0}
    kinds = {row["kind"] for row in as_dicts(rows)}
    assert kinds == {"earn", "reduce", "reverse", "batch", "paid", "clawback", "transfer_reversal"}


def test_journal_takes_whole_utc_days_from_the_first_to_the_last_included(data, finance):
    first, second, third = db.session.scalars(sa.select(LedgerTransaction).order_by(LedgerTransaction.id)
                                              .limit(3)).all()
    finance_data.backdate(first, datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc))
    finance_data.backdate(second, datetime(2026, 1, 1, tzinfo=timezone.utc))
    finance_data.backdate(third, datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=timezone.utc))
    rows = as_dicts(read_csv(finance.get("/api/v1/reports/journal.csv?from=2026-01-01&to=2026-01-31")))
    assert {row["transaction_id"] for row in rows} == {str(second.id), str(third.id)}
    assert rows[0]["posted_at"] == "2026-01-01T00:00:00Z"
    assert rows[-1]["posted_at"] == "2026-01-31T23:59:59.999999Z"


def test_referrers_csv_gives_each_referrers_figures_per_currency(data, finance):
    rows = read_csv(finance.get(f"/api/v1/reports/referrers.csv?year={YEAR}"))
    assert rows[0] == ["customer_id", "customer_email", "currency", "rewards_earned", "rewards_reversed", "paid"]
    expected = [[str(data.customer(who).id), data.customer(who).email, currency, *map(str, figures)]
                for (who, currency), figures in sorted(finance_data.EXPECTED.items(),
                                                       key=lambda item: (data.customer(item[0][0]).id, item[0][1]))]
    expected[2][1] = "'" + expected[2][1]  # B's address starts with "=": neutralised
    assert rows[1:] == expected
    assert read_csv(finance.get(f"/api/v1/reports/referrers.csv?year={YEAR - 1}")) == [rows[0]]


def test_formatted_columns_follow_the_contracts(data, finance):
    rows = as_dicts(read_csv(finance.get(f"/api/v1/reports/referrers.csv?year={YEAR}&formatted=1")))
    a_usd = next(row for row in rows if row["customer_id"] == str(data.a.id) and row["currency"] == "usd")
    assert list(a_usd)[-3:] == ["rewards_earned_formatted", "rewards_reversed_formatted", "paid_formatted"]
    assert (a_usd["rewards_earned_formatted"], a_usd["paid_formatted"]) == ("30.00", "22.00")
    a_jpy = next(row for row in rows if row["customer_id"] == str(data.a.id) and row["currency"] == "jpy")
    assert a_jpy["paid_formatted"] == "500"
    journal = read_csv(finance.get("/api/v1/reports/journal.csv", query_string={**THIS_YEAR, "formatted": "1"}))
    assert journal[0][-2:] == ["debit_formatted", "credit_formatted"]


def test_negative_amounts_stay_numbers_while_formula_text_is_neutralised(data, finance):
    """A year with only a transfer reversal pays a negative amount: `-300` is a number, not neutralised text."""
    reversal = db.session.scalar(sa.select(LedgerTransaction).filter_by(kind="transfer_reversal"))
    finance_data.backdate(reversal, datetime(2024, 6, 1, tzinfo=timezone.utc))
    text = finance.get("/api/v1/reports/referrers.csv?year=2024&formatted=1").get_data(as_text=True)
    assert text.splitlines()[1] == f"{data.a.id},alice.a@example.com,usd,0,0,-300,0.00,0.00,-3.00"
    rows = read_csv(finance.get(f"/api/v1/reports/referrers.csv?year={YEAR}"))
    b_row = next(row for row in rows if row[1].startswith("'"))
    assert b_row[1] == "'=1+2@example.com"


@pytest.mark.parametrize("query, field", [
    ("", "from"), ("from=2026-01-01", "to"), ("from=2026-13-01&to=2026-12-31", "from"),
    ("from=2026-02-01&to=2026-01-01", "to"), ("from=yesterday&to=2026-01-01", "from"),
])
def test_bad_periods_are_422_naming_the_field(finance, query, field):
    response = finance.get(f"/api/v1/reports/journal.csv?{query}")
    assert response.status_code == 422
    assert field in response.json["errors"]["query"]


@pytest.mark.parametrize("query", ["", "year=20x6", "year=1969", "year=10000"])
def test_bad_years_are_422(finance, query):
    assert finance.get(f"/api/v1/reports/referrers.csv?{query}").status_code == 422


def test_reports_are_for_finance_and_admin_only(app, api_as):
    for role, status in (("coordinator", 403), ("customer", 403), ("finance", 200), ("admin", 200)):
        assert api_as(role).get(f"/api/v1/reports/referrers.csv?year={YEAR}").status_code == status


def test_payouts_csv_has_settled_items_and_reversals_as_negative_rows(data, finance):
    rows = read_csv(finance.get("/api/v1/reports/payouts.csv", query_string=THIS_YEAR))
    assert rows[0] == ["paid_at", "batch_id", "item_id", "customer_id", "customer_email", "amount", "currency",
                       "stripe_transfer_id"]
    a_usd, a_jpy, c_usd = data.items["a_usd"], data.items["a_jpy"], data.items["c_usd"]
    reversal = db.session.scalar(sa.select(PayoutReversal))

    def line(item, when, amount, transfer, order):
        """(the file's order: time, items before reversals, id; the row)."""
        return (when, *order), [iso(when), str(item.batch_id), str(item.id), str(item.customer_id),
                                item.customer.email, str(amount), item.currency, transfer or ""]

    expected = sorted([line(a_usd, a_usd.paid_at, 2500, a_usd.stripe_transfer_id, (0, a_usd.id)),
                       line(a_jpy, a_jpy.paid_at, 500, a_jpy.stripe_transfer_id, (0, a_jpy.id)),
                       # paid by hand: no transfer (its reference is on the batch page)
                       line(c_usd, c_usd.paid_at, 2000, None, (0, c_usd.id)),
                       line(a_usd, reversal.reversed_at, -300, a_usd.stripe_transfer_id, (1, reversal.id))])
    assert rows[1:] == [row for _, row in expected]
    assert c_usd.method == "manual" and c_usd.reference == finance_data.MANUAL_REFERENCE
    assert data.items["b_draft"].status == "pending"  # drafted, never paid: not in the file
    # Against the ledger: each item's amount is what its settlement moved to paid out, the reversal what came back.
    paid_out = dict(db.session.execute(
        sa.select(LedgerTransaction.batch_transaction_id, sa.func.sum(LedgerEntry.amount))
        .join(LedgerEntry).join(Account).where(LedgerTransaction.kind == "paid", Account.kind == "paid_out")
        .group_by(LedgerTransaction.batch_transaction_id)).all())
    for item in (a_usd, a_jpy, c_usd):
        assert paid_out[item.batch_transaction_id] == item.amount
    taken_back = db.session.scalar(sa.select(sa.func.sum(LedgerEntry.amount)).join(LedgerTransaction).join(Account)
                                   .where(LedgerTransaction.kind == "transfer_reversal", Account.kind == "paid_out"))
    assert taken_back == -300
    # And per referrer and currency the file adds up to the `paid` of referrers.csv.
    totals = {}
    for row in as_dicts(rows):
        totals[(row["customer_id"], row["currency"])] = totals.get((row["customer_id"], row["currency"]), 0) \
            + int(row["amount"])
    referrers = as_dicts(read_csv(finance.get(f"/api/v1/reports/referrers.csv?year={YEAR}")))
    assert totals == {(row["customer_id"], row["currency"]): int(row["paid"]) for row in referrers
                      if row["paid"] != "0"}


def test_payouts_csv_formatted_and_period_bounds(data, finance):
    rows = as_dicts(read_csv(finance.get("/api/v1/reports/payouts.csv", query_string={**THIS_YEAR, "formatted": 1})))
    assert sorted(row["amount_formatted"] for row in rows) == ["-3.00", "20.00", "25.00", "500"]
    last_year = {"from": f"{YEAR - 1}-01-01", "to": f"{YEAR - 1}-12-31"}
    assert len(read_csv(finance.get("/api/v1/reports/payouts.csv", query_string=last_year))) == 1
