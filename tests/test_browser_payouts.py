"""Real browser: one finance user drafts a payout batch, a second approves and executes it against the fake Stripe
server, and the batch page shows every item paid."""
import pytest

from tests import factories
from tests.payouts_support import app_config, fake_stripe, referrer_owed  # noqa: F401

pytestmark = pytest.mark.browser


def log_in(page, email):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/finance")


def test_finance_drafts_another_approves_and_executes_and_sees_items_paid(new_page, fake_stripe, screenshot):
    factories.program(amount=2500)
    for _ in range(3):
        referrer_owed(fake_stripe)
    drafter, approver = factories.user(role="finance"), factories.user(role="finance")

    first = new_page()
    log_in(first, drafter.email)
    first.get_by_label("Currency (ISO code)").fill("usd")
    first.get_by_label("Minimum per referrer, in currency units (empty: the default)").fill("10")
    first.get_by_role("button", name="Draft a batch").click()
    first.wait_for_url("**/finance/payouts/*")
    assert first.locator("#batch-status").inner_text() == "draft"
    assert first.locator("#batch-total").inner_text() == "75.00 USD"
    assert first.locator("#approve").count() == 0  # the drafter cannot approve
    batch_url = first.url

    second = new_page()
    log_in(second, approver.email)
    second.goto(batch_url)
    second.get_by_role("button", name="Approve").click()
    second.wait_for_selector("text=Approved. It can be executed now.")
    assert second.locator("#batch-status").inner_text() == "approved"
    second.get_by_role("button", name="Execute").click()
    second.wait_for_selector("#batch-status >> text=paid")
    rows = second.locator("#items tbody tr")
    assert rows.count() == 3
    for i in range(3):
        assert rows.nth(i).get_attribute("data-status") == "paid"
        assert rows.nth(i).locator("td").nth(4).inner_text().startswith("tr_")
    screenshot(second, "payout-batch-paid")
    assert len(fake_stripe.transfers_made()) == 3
