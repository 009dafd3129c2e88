"""Real browser (chromium): sign up, receive the confirmation at the SMTP server, open its link, reach the portal."""
import pytest
from playwright.sync_api import expect

from tests.conftest import links_in

pytestmark = pytest.mark.browser

PASSWORD = "violet-harbour-kettle-41"


def test_sign_up_confirm_by_email_and_reach_the_portal(app, live_server, smtp, new_page, screenshot):
    app.config["PUBLIC_BASE_URL"] = live_server.url
    page = new_page()
    page.goto("/signup")
    page.get_by_label("Your name").fill("Paula Portal")
    page.get_by_label("Email").fill("paula@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Join the referral program").click()
    expect(page.locator("#check-email")).to_be_visible()
    assert "paula@example.com" in page.locator("#check-email").inner_text()

    message = smtp.last_to("paula@example.com")
    assert message["Subject"] == "Confirm your email address"
    link = next(link for link in links_in(message) if "/signup/confirm/" in link)
    assert link.startswith(live_server.url)

    page.goto(link)
    page.get_by_label("The password you chose at sign-up").fill(PASSWORD)
    page.get_by_role("button", name="Confirm and open my portal").click()
    page.wait_for_url("**/portal")
    expect(page.get_by_text("Hello, Paula Portal")).to_be_visible()
    screenshot(page, "signup-confirmed-portal")
