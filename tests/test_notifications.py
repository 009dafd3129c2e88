"""Notification mail at a real SMTP server: what referrers, referees and finance are told, in currency units,
under the business's name, and customers' choice to switch each kind off (portal or one-click unsubscribe)."""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from rewards import bulk
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.notifications.service import notify_batch_awaiting_approval, set_preferences
from rewards.sales.models import Sale
from tests import factories
from tests.conftest import Pages, html_of, links_in, text_of

pytestmark = pytest.mark.usefixtures("smtp")


@pytest.fixture
def app_config():
    return {"BUSINESS_NAME": "Bloom Bakery", "SUPPORT_EMAIL": "help@bloom.example"}


def path_of(url):
    return urlsplit(url).path


def referrer_with_login(email="rita@example.com"):
    user = factories.user("customer", email=email, name="Rita Referrer")
    return user, user.customer


def sell(api_as, email, amount=12000, external_id="order-1"):
    response = api_as("coordinator").post("/api/v1/sales", json={
        "external_id": external_id, "email": email, "amount": amount, "currency": "usd",
        "occurred_at": utcnow().isoformat()})
    assert response.status_code == 201, response.json
    return response


def test_referrer_is_told_when_someone_uses_her_link(client, pages, smtp):
    _, rita = referrer_with_login()
    response = pages.submit(f"/r/{rita.referral_code}", {"name": "Gina Guest", "email": "gina@example.com"})
    assert response.status_code == 200
    message = smtp.last_to("rita@example.com")
    assert message["Subject"] == "Gina Guest used your referral link"
    assert "Gina Guest" in text_of(message) and "Gina Guest" in html_of(message)
    assert "Bloom Bakery" in text_of(message) and "help@bloom.example" in text_of(message)
    assert message["From"] == "Bloom Bakery <help@bloom.example>"
    assert message["List-Unsubscribe"].startswith("<http") and message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    preferences = [link for link in links_in(message) if link.endswith("/portal/preferences")]
    assert preferences
    # The program has no referee reward: the referee gets nothing.
    assert smtp.to("gina@example.com") == []


def test_referee_is_welcomed_with_the_offer_when_the_program_has_one(pages, smtp):
    factories.program(referee_credit_amount=1500, referee_coupon_code="WELCOME15")
    _, rita = referrer_with_login()
    pages.submit(f"/r/{rita.referral_code}", {"name": "Gina Guest", "email": "gina@example.com"})
    welcome = smtp.last_to("gina@example.com")
    assert welcome["Subject"] == "Rita Referrer invited you: here is your welcome offer"
    assert "a credit of 15.00 USD" in text_of(welcome) and "WELCOME15" in html_of(welcome)
    assert welcome["List-Unsubscribe"] is None


def test_referrer_is_told_when_a_referral_qualifies_and_when_the_reward_is_taken_back(api_as, smtp):
    factories.program(amount=2500, hold_days=14)
    _, rita = referrer_with_login()
    factories.referral(rita, email="buyer@example.com", referee_name="Bea Buyer",
                       created_at=utcnow() - timedelta(days=1))
    sell(api_as, "buyer@example.com")
    qualified = smtp.last_to("rita@example.com")
    assert qualified["Subject"] == "Bea Buyer qualified: you earned 25.00 USD"
    payable = (utcnow() + timedelta(days=14)).strftime("%d %B %Y")
    assert f"payable on {payable}" in text_of(qualified) and "25.00 USD" in html_of(qualified)

    refund = api_as("coordinator").post("/api/v1/sales/order-1/refunds", json={"amount": 12000, "external_id": "r-1"})
    assert refund.status_code in (200, 201), refund.json
    taken = smtp.last_to("rita@example.com")
    assert taken["Subject"] == "A reward was taken back: 25.00 USD"
    assert "Bea Buyer" in text_of(taken) and "refunded" in text_of(taken)


@pytest.mark.parametrize("copy_from", [1, bulk.COPY_FROM])  # messages written by COPY (PostgreSQL) and by INSERT
def test_a_revalidation_tells_each_referrer_once_after_reporting_its_work(runner, smtp, monkeypatch, copy_from):
    monkeypatch.setattr(bulk, "COPY_FROM", copy_from)
    factories.program(amount=2500)
    referrers = [factories.customer(email=f"ref{i}@example.com") for i in range(3)]
    for i, referrer in enumerate(referrers):
        factories.referral(referrer, email=f"buyer{i}@example.com", referee_name=f"Buyer {i}",
                           created_at=utcnow() - timedelta(days=1))
        db.session.add(Sale(external_id=f"s{i}", email=f"buyer{i}@example.com", amount=12000, currency="usd",
                            occurred_at=utcnow(), source="csv"))
    set_preferences(referrers[2], {"referral_received", "reward_taken_back"})
    db.session.commit()

    result = runner.invoke(args=["referrals", "revalidate"])
    assert result.exit_code == 0, result.output
    assert "rewards granted 3" in result.output
    # Without REDIS_URL the command sends the mail itself, once it has reported the work it committed.
    assert result.output.index("Weighed in") < result.output.index("Background jobs run here")
    first = smtp.last_to("ref0@example.com")
    assert [m["Subject"] for m in smtp.to("ref0@example.com")] == ["Buyer 0 qualified: you earned 25.00 USD"]
    assert first["List-Unsubscribe"].startswith("<http") and "25.00 USD" in html_of(first)
    assert len(smtp.to("ref1@example.com")) == 1 and smtp.to("ref2@example.com") == []

    assert "rewards granted 0" in runner.invoke(args=["referrals", "revalidate"]).output
    assert len(smtp.messages) == 2


def test_a_customer_switches_a_kind_off_in_the_portal(app, api_as, smtp):
    factories.program(amount=2500)
    user, rita = referrer_with_login()
    pages = Pages(app.test_client())
    pages.login(user.email)
    page = pages.client.get("/portal/preferences").get_data(as_text=True)
    assert "A referral qualifies and earns me a reward" in page
    saved = pages.submit("/portal/preferences", {"referral_received": "y", "reward_taken_back": "y"},
                         follow_redirects=True)
    assert "Your email preferences are saved." in saved.get_data(as_text=True)
    factories.referral(rita, email="buyer@example.com", created_at=utcnow() - timedelta(days=1))
    sell(api_as, "buyer@example.com")
    assert smtp.to("rita@example.com") == []
    # The other kinds still arrive.
    pages.submit(f"/r/{rita.referral_code}", {"name": "Gina Guest", "email": "gina@example.com"})
    assert smtp.last_to("rita@example.com")["Subject"] == "Gina Guest used your referral link"


def test_one_click_unsubscribe_from_the_header_switches_that_kind_off(app, pages, smtp):
    _, rita = referrer_with_login()
    pages.submit(f"/r/{rita.referral_code}", {"name": "Gina Guest", "email": "gina@example.com"})
    header = smtp.last_to("rita@example.com")["List-Unsubscribe"].strip("<>")
    # A mail program posts to it without any cookie or form token (RFC 8058).
    response = app.test_client().post(path_of(header), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "You are unsubscribed" in response.get_data(as_text=True)
    pages.submit(f"/r/{rita.referral_code}", {"name": "Hal Guest", "email": "hal@example.com"})
    assert len(smtp.to("rita@example.com")) == 1
    assert app.test_client().get("/unsubscribe/forged-token").status_code == 404


def test_finance_is_told_when_a_payout_batch_awaits_approval(app, smtp):
    creator = factories.user("finance", email="maker@example.com")
    checker = factories.user("finance", email="checker@example.com", name="Chris Checker")
    factories.user("admin", email="boss@example.com")
    factories.user("coordinator", email="coord@example.com")
    told = notify_batch_awaiting_approval(42, 123456, "usd", 3, creator.id)
    db.session.commit()
    assert told == 2
    assert {r for m in smtp.messages for r in m.envelope_recipients} == {"checker@example.com", "boss@example.com"}
    message = smtp.last_to("checker@example.com")
    assert message["Subject"] == "Payout batch 42 (1,234.56 USD) awaits your approval"
    assert "3 payments" in text_of(message) and "Chris Checker" in text_of(message)
    # The link leads the checker to the finance page.
    link = next(link for link in links_in(message) if link.endswith("/finance"))
    pages = Pages(app.test_client())
    pages.login(checker.email)
    assert pages.client.get(path_of(link)).status_code == 200
    # Told once per batch, however often the payouts code calls.
    assert notify_batch_awaiting_approval(42, 123456, "usd", 3, creator.id) == 0
    db.session.commit()
    assert len(smtp.messages) == 2
