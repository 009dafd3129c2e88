"""Statements (printable page and CSV: staff see anyone's, a customer only her own), /finance's report section and
chart, the downloads from pages, and each export as a CLI command writing a file."""
import csv
import html
import io
import json
import re
from datetime import datetime, timezone

import pytest

from rewards.extensions import db
from tests import factories, finance_data
from tests.payouts_support import app_config, fake_stripe  # noqa: F401  (finance_data pays through the fake)

YEAR = datetime.now(timezone.utc).year


@pytest.fixture
def data(app, client, fake_stripe):
    return finance_data.seed(fake_stripe, client)


def rows_of(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def give_login(customer):
    user = factories.user(role="customer", customer=False)
    customer.user = user
    db.session.commit()
    return user


def test_staff_statement_page_and_csv_show_every_reward_and_payout(data, client, login_as):
    login_as("finance")
    page = client.get(f"/finance/referrers/{data.a.id}/statement?year={YEAR}").get_data(as_text=True)
    assert "Statement" in page and "alice.a@example.com" in page
    assert '<td class="text-end" data-figure="rewards_earned">30.00 USD</td>' in page
    assert '<td class="text-end" data-figure="rewards_reversed">15.00 USD</td>' in page
    assert '<td class="text-end" data-figure="paid">22.00 USD</td>' in page
    assert '<td class="text-end" data-figure="paid">500 JPY</td>' in page
    today = re.search(r'id="statement-now">(.*?)</table>', page, re.S).group(1)
    usd_now = re.search(r'data-currency="usd">(.*?)</tr>', today, re.S).group(1)
    # Today, by the one balance model: 3.00 payable again (the reversed 300), 10.00 owed back (the clawback).
    assert re.findall(r">([^<]+)</td>", usd_now) == ["0.00 USD", "3.00 USD", "0.00 USD", "10.00 USD"]
    for kind in ("earn", "reduce", "clawback", "paid", "transfer_reversal"):
        assert f'data-kind="{kind}"' in page
    rows = rows_of(client.get(f"/finance/referrers/{data.a.id}/statement.csv?year={YEAR}"))
    assert list(rows[0]) == ["posted_at", "transaction_id", "kind", "reward_id", "currency", "rewards_earned",
                             "rewards_reversed", "paid", "memo"]
    usd = [row for row in rows if row["currency"] == "usd"]
    assert sorted((row["kind"], row["reward_id"], row["rewards_earned"], row["rewards_reversed"], row["paid"])
                  for row in usd) == sorted([
        ("earn", str(data.rewards["a1"].id), "1000", "0", "0"), ("earn", str(data.rewards["a2"].id), "2000", "0", "0"),
        ("reduce", str(data.rewards["a2"].id), "0", "500", "0"), ("paid", "", "0", "0", "2500"),
        ("clawback", str(data.rewards["a1"].id), "0", "1000", "0"), ("transfer_reversal", "", "0", "0", "-300")])
    assert client.get(f"/finance/referrers/999999/statement?year={YEAR}").status_code == 404
    assert client.get(f"/finance/referrers/{data.a.id}/statement?year=abc").status_code == 422


def test_a_customer_sees_only_her_own_statement(data, client, pages):
    user = give_login(data.c)
    pages.login(user.email)
    page = client.get(f"/portal/statement?year={YEAR}").get_data(as_text=True)
    assert "carol.c@example.com" in page and "alice.a@example.com" not in page
    assert '<td class="text-end" data-figure="paid">20.00 USD</td>' in page
    rows = rows_of(client.get(f"/portal/statement.csv?year={YEAR}"))
    assert {row["kind"] for row in rows} == {"earn", "paid"} and sum(int(r["paid"]) for r in rows) == 2000
    assert client.get(f"/finance/referrers/{data.a.id}/statement?year={YEAR}").status_code == 403
    assert client.get(f"/finance/referrers/{data.a.id}/statement.csv?year={YEAR}").status_code == 403
    empty = client.get(f"/portal/statement?year={YEAR - 1}").get_data(as_text=True)
    assert "Nothing was booked for you" in empty


def test_finance_home_has_report_forms_chart_and_the_downloads_work(data, client, login_as):
    login_as("finance")
    page = client.get("/finance").get_data(as_text=True)
    for form in ("journal-form", "payouts-form", "referrers-form"):
        assert f'id="{form}"' in page
    assert 'type="date"' in page and 'id="paid-chart"' in page and "chart.js" in page
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    # This month's `paid`: usd 25.00 (A) + 20.00 (C, by hand) − 3.00 (reversed); jpy 500.
    cells = re.search(rf'<th scope="row">{month}</th>(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r">([^<]+)</td>", cells) == ["500 JPY", "42.00 USD"]
    chart = json.loads(html.unescape(re.search(r'data-chart="([^"]+)"', page).group(1)))
    assert chart["series"]["usd"][-1] == 4200 and chart["units"]["jpy"][-1] == "500"
    journal = rows_of(client.get(f"/finance/reports/journal.csv?from={YEAR}-01-01&to={YEAR}-12-31"))
    assert len(journal) > 20
    payouts = rows_of(client.get(f"/finance/reports/payouts.csv?from={YEAR}-01-01&to={YEAR}-12-31&formatted=1"))
    assert len(payouts) == 4 and "amount_formatted" in payouts[0]
    assert len(rows_of(client.get(f"/finance/reports/referrers.csv?year={YEAR}"))) == 4
    bad = client.get("/finance/reports/journal.csv?from=2026-02-30&to=2026-03-01")
    assert bad.status_code == 422 and "from" in bad.get_data(as_text=True)


@pytest.mark.parametrize("args, header", [
    (["journal", "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-12-31"], "posted_at,transaction_id,kind"),
    (["payouts", "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-12-31"], "paid_at,batch_id,item_id"),
    (["referrers", "--year", str(YEAR)], "customer_id,customer_email,currency"),
])
def test_each_export_is_a_cli_command_writing_the_same_file(data, runner, api_as, tmp_path, args, header):
    out = tmp_path / "export.csv"
    result = runner.invoke(args=["reports", *args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = out.read_bytes()
    assert written.decode().startswith(header)
    rows = written.decode().count("\r\n") - 1
    assert f"Wrote {rows} row(s)" in result.stdout
    query = "&".join(f"{a.lstrip('-')}={b}" for a, b in zip(args[1::2], args[2::2]))
    assert api_as("finance").get(f"/api/v1/reports/{args[0]}.csv?{query}").get_data() == written


def test_cli_statement_and_refusals(data, runner, tmp_path):
    out = tmp_path / "statement.csv"
    result = runner.invoke(args=["reports", "statement", "--customer-id", str(data.c.id), "--year", str(YEAR),
                                 "--out", str(out)])
    assert result.exit_code == 0 and "Wrote 2 row(s)" in result.stdout
    missing = runner.invoke(args=["reports", "statement", "--customer-id", "999999", "--year", str(YEAR),
                                  "--out", str(out)])
    assert missing.exit_code == 1 and "no customer 999999" in missing.stderr
    backwards = runner.invoke(args=["reports", "journal", "--from", "2026-02-01", "--to", "2026-01-01", "--out",
                                    str(out)])
    assert backwards.exit_code != 0 and "--to is before --from" in backwards.output
