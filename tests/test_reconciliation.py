"""Reconciliation against the fake Stripe server: each kind of difference found, matched transfers counted, the CLI's
exit status, the page and the last result on /finance."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from rewards.extensions import db
from rewards.reports.models import ReconciliationRun
from tests import finance_data
from tests.payouts_support import app_config, fake_stripe  # noqa: F401  (the app pointed at the fake Stripe)

TODAY = datetime.now(timezone.utc).date()
PERIOD = ["--from", TODAY.replace(day=1).isoformat(), "--to", TODAY.isoformat()]


@pytest.fixture
def data(app, client, fake_stripe):
    return finance_data.seed(fake_stripe, client)


def reconcile(runner):
    result = runner.invoke(args=["payouts", "reconcile", *PERIOD])
    run = db.session.scalar(sa.select(ReconciliationRun).order_by(ReconciliationRun.id.desc()))
    return result, run


def kinds(run):
    return [(d["kind"], d["transfer_id"]) for d in run.differences]


def stranger_transfer(fake, metadata):
    """A transfer made on the platform, not by Refero's executor."""
    account = fake.add_account()
    with fake.lock:
        return fake.create_transfer({"amount": "777", "currency": "usd", "destination": account["id"],
                                     "metadata": metadata})


def test_settled_stripe_items_match_and_the_cli_exits_0(data, runner):
    result, run = reconcile(runner)
    assert result.exit_code == 0, result.output
    assert (run.status, run.matched, run.differences) == ("matched", 2, [])  # A's usd and jpy; C was paid by hand
    assert "2 matched, 0 difference(s)" in result.stdout


def test_an_amount_that_differs(data, runner, fake_stripe):
    transfer_id = data.items["a_usd"].stripe_transfer_id
    fake_stripe.transfers[transfer_id]["amount"] = 2600
    result, run = reconcile(runner)
    assert result.exit_code == 1
    assert kinds(run) == [("amount_differs", transfer_id)]
    assert (run.differences[0]["refero"], run.differences[0]["stripe"]) == (2500, 2600)
    assert f"amount_differs: transfer {transfer_id}" in result.stdout


def test_a_reversal_the_ledger_has_not_taken(data, runner, fake_stripe):
    transfer_id = data.items["a_usd"].stripe_transfer_id
    fake_stripe.reverse(transfer_id, 100)  # Stripe reversed 100 more; its webhook never arrived
    result, run = reconcile(runner)
    assert result.exit_code == 1
    assert kinds(run) == [("reversed_differs", transfer_id)]
    assert (run.differences[0]["refero"], run.differences[0]["stripe"]) == (300, 400)


def test_a_transfer_stripe_made_for_refero_that_refero_does_not_record(data, runner, fake_stripe):
    unknown = stranger_transfer(fake_stripe, {"refero_batch_id": "9", "refero_item_id": "999"})
    stranger_transfer(fake_stripe, {"order": "not ours"})  # no Refero metadata: not Refero's business
    result, run = reconcile(runner)
    assert result.exit_code == 1
    assert kinds(run) == [("unknown_at_refero", unknown["id"])]
    assert "item 999 of batch 9" in run.differences[0]["message"]


def test_an_item_refero_paid_that_stripe_does_not_show(data, runner, fake_stripe):
    transfer_id = data.items["a_jpy"].stripe_transfer_id
    with fake_stripe.lock:
        del fake_stripe.transfers[transfer_id]
        fake_stripe.transfer_order.remove(transfer_id)
    result, run = reconcile(runner)
    assert result.exit_code == 1
    assert kinds(run) == [("missing_at_stripe", transfer_id)]
    assert run.differences[0]["item_id"] == data.items["a_jpy"].id


def test_stripe_is_read_page_after_page(data, runner, fake_stripe):
    """Refero's transfers are the oldest: listed newest first, they sit on the third page of 100."""
    for _ in range(230):
        stranger_transfer(fake_stripe, {})
    listed = len([r for r in fake_stripe.requests if r[1] == "GET" and r[2] == "/v1/transfers"])
    result, run = reconcile(runner)
    assert (result.exit_code, run.matched) == (0, 2)
    pages = len([r for r in fake_stripe.requests if r[1] == "GET" and r[2] == "/v1/transfers"]) - listed
    assert pages == 3


def test_without_stripe_the_run_is_an_error_and_the_cli_says_so(data, app, runner):
    app.config["STRIPE_SECRET_KEY"] = None
    result, run = reconcile(runner)
    assert result.exit_code == 1 and "Stripe is not configured" in result.stderr
    assert run.status == "error"


def test_bad_periods_are_refused_by_the_cli(app, runner):
    result = runner.invoke(args=["payouts", "reconcile", "--from", "2026-02-01", "--to", "2026-01-01"])
    assert result.exit_code != 0 and "--to is before --from" in result.output
    assert runner.invoke(args=["payouts", "reconcile", "--from", "yesterday", "--to", "2026-01-01"]).exit_code != 0


def test_the_page_runs_a_reconciliation_and_finance_home_shows_the_last(data, client, pages, login_as, fake_stripe):
    fake_stripe.transfers[data.items["a_usd"].stripe_transfer_id]["amount"] = 1
    login_as("finance")
    response = pages.submit("/finance/reconciliation", {"from": PERIOD[1], "to": PERIOD[3]})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-kind="amount_differs"' in page and "1 difference(s)" in page
    home = client.get("/finance").get_data(as_text=True)
    assert "1 difference(s)" in home and "1 matched" in home
    bad = pages.submit("/finance/reconciliation", {"from": "2026-02-01", "to": "2026-01-01"})
    assert bad.status_code == 422
