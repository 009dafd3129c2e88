"""Real-browser flows of the customer portal and the referee's link page (Playwright + Debian's chromium)."""
import re

import pytest
from playwright.sync_api import expect

from tests import factories

pytestmark = pytest.mark.browser


def test_customer_logs_in_refers_and_sees_link_referral(new_page, screenshot):
    customer = new_page(permissions=["clipboard-read", "clipboard-write"])
    factories.user("customer", email="paula@example.com", name="Paula Portal")
    customer.goto("/login")
    customer.get_by_label("Email").fill("paula@example.com")
    customer.get_by_label("Password").fill(factories.PASSWORD)
    customer.get_by_role("button", name="Log in").click()
    customer.wait_for_url("**/portal")
    expect(customer.get_by_text("Hello, Paula Portal")).to_be_visible()

    customer.get_by_role("link", name="Refer someone").click()
    customer.get_by_label("Their name").fill("Frank Friend")
    customer.get_by_label("Their email").fill("frank@example.com")
    customer.get_by_role("button", name="Refer").click()
    customer.wait_for_url("**/portal")
    row = customer.locator("#referrals tbody tr", has_text="Frank Friend")
    assert row.locator(".badge").inner_text() == "pending"

    # The link comes from the Copy button, as the customer would share it.
    customer.get_by_role("button", name="Copy").click()
    link = customer.evaluate("navigator.clipboard.readText()")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_-]{12}", link), link

    referee = new_page()
    referee.goto(link)
    expect(referee.get_by_role("heading", name="Paula Portal invites you to Refero")).to_be_visible()
    referee.get_by_label("Your name").fill("Gina Guest")
    referee.get_by_label("Your email").fill("gina@example.com")
    referee.get_by_role("button", name="Send my details").click()
    expect(referee.locator("#landing-thanks")).to_be_visible()

    customer.reload()
    row = customer.locator("#referrals tbody tr", has_text="Gina Guest")
    assert row.locator(".badge").inner_text() == "pending"
    assert "link" in row.inner_text()
    screenshot(customer, "portal")
