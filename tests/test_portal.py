"""The customer portal and the referee's landing page, through their forms."""
import pytest

from rewards.extensions import db
from rewards.referrals.models import Referral
from tests import factories


@pytest.fixture
def customer(login_as):
    return login_as("customer", email="carl@example.com").customer


def test_portal_shows_link_and_own_referrals_only(client, customer):
    mine = factories.referral(customer, email="mine@example.com")
    factories.referral(factories.customer(), email="theirs@example.com")
    page = client.get("/portal").get_data(as_text=True)
    assert f"http://localhost/r/{customer.referral_code}" in page
    assert "mine@example.com" in page and "theirs@example.com" not in page
    assert client.get(f"/portal/referrals/{mine.id}").status_code == 200


def test_another_customers_referral_is_404(client, customer):
    theirs = factories.referral(factories.customer())
    assert client.get(f"/portal/referrals/{theirs.id}").status_code == 404


def test_portal_pages(client, customer):
    for _ in range(25):
        factories.referral(customer)
    first = client.get("/portal").get_data(as_text=True)
    second = client.get("/portal?page=2").get_data(as_text=True)
    assert first.count("<tr>") - 1 == 20 and second.count("<tr>") - 1 == 5


def test_submit_referral_in_portal(pages, customer):
    response = pages.submit("/portal/referrals/new", {"referee_name": "Dora", "referee_email": "DORA@example.com",
                                                      "referee_phone": "+44 20 7946 0958", "note": "Met at the fair"})
    assert response.status_code == 302
    referral = db.session.scalar(db.select(Referral).filter_by(referee_email="dora@example.com"))
    assert (referral.referrer_id, referral.source, referral.status) == (customer.id, "portal", "pending")
    assert referral.referee_phone == "+442079460958"


@pytest.mark.parametrize("fields, status, message", [
    ({"referee_email": "nope"}, 422, "Not a valid email"),
    ({"referee_email": "carl@example.com"}, 422, "You cannot refer yourself."),
    ({"referee_email": "member@example.com"}, 422, "This person is already a customer."),
    ({"referee_phone": "555"}, 422, "Not a valid phone number."),
])
def test_portal_refusals(pages, customer, fields, status, message):
    factories.customer(email="member@example.com")
    data = {"referee_name": "Dora", "referee_email": "dora@example.com", **fields}
    response = pages.submit("/portal/referrals/new", data)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)


def test_portal_duplicate_referral_is_refused(pages, customer):
    data = {"referee_name": "Dora", "referee_email": "dora@example.com"}
    assert pages.submit("/portal/referrals/new", data).status_code == 302
    again = pages.submit("/portal/referrals/new", data)
    assert "You have already referred this person." in again.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Referral.id))) == 1


def test_landing_page_records_a_link_referral(pages, client):
    referrer = factories.customer(name="Rosa")
    page = client.get(f"/r/{referrer.referral_code}").get_data(as_text=True)
    assert "Rosa invites you to Refero" in page and "What happens next" in page
    assert ">Log in<" not in page and ">Join<" not in page and "data-offer" not in page
    assert "Write a US number with its area code, e.g. (201) 555-0123" in page
    response = pages.submit(f"/r/{referrer.referral_code}", {"name": "Lee", "email": "lee@example.com"})
    assert response.status_code == 200 and "Thank you!" in response.get_data(as_text=True)
    referral = db.session.scalar(db.select(Referral).filter_by(referee_email="lee@example.com"))
    assert (referral.referrer_id, referral.source) == (referrer.id, "link")


def test_landing_page_offers_the_friend_what_the_program_gives(client, app):
    app.config["BUSINESS_NAME"] = "Acme Coffee"
    factories.program(amount=2500, min_sale_amount=5000, referee_credit_amount=1000, referee_coupon_code="HELLO10")
    referrer = factories.customer(name="Rosa")
    page = client.get(f"/r/{referrer.referral_code}").get_data(as_text=True)
    assert "Rosa invites you to Acme Coffee" in page
    assert "you get 10.00 USD credit on your first purchase and the code HELLO10 to use at checkout" in page


@pytest.mark.parametrize("region, typed, stored", [("US", "(201) 555-0123", "+12015550123"),
                                                   ("GB", "020 7946 0958", "+442079460958")])
def test_phone_numbers_without_country_code_use_the_default_region(pages, client, app, region, typed, stored):
    app.config["DEFAULT_PHONE_REGION"] = region
    referrer = factories.customer(name="Rosa")
    bad = pages.submit(f"/r/{referrer.referral_code}", {"name": "Lee", "email": "lee@example.com", "phone": "555-0199"})
    assert bad.status_code == 422 and f"Write a {region} number with its area code" in bad.get_data(as_text=True)
    pages.submit(f"/r/{referrer.referral_code}", {"name": "Lee", "email": "lee@example.com", "phone": typed})
    assert db.session.scalar(db.select(Referral.referee_phone)) == stored


def test_unknown_referral_code_is_a_helpful_404(client):
    response = client.get("/r/no-such-code")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "We could not find this invitation" in page and "Ask the person who invited you" in page
    assert ">Log in<" not in page


def test_staff_have_no_portal(client, login_as):
    login_as("coordinator")
    assert client.get("/portal").status_code == 403


def test_staff_record_a_referral_with_source_admin(pages, login_as):
    login_as("coordinator")
    referrer = factories.customer(email="rosa@example.com")
    response = pages.submit("/admin/referrals/new", {"referrer": "ROSA@example.com", "referee_name": "Ned",
                                                     "referee_email": "ned@example.com"})
    assert response.status_code == 302
    referral = db.session.scalar(db.select(Referral).filter_by(referee_email="ned@example.com"))
    assert (referral.referrer_id, referral.source) == (referrer.id, "admin")
    unknown = pages.submit("/admin/referrals/new", {"referrer": "nobody-code", "referee_name": "Ned",
                                                    "referee_email": "ned2@example.com"})
    assert unknown.status_code == 422 and "No customer with this referral code." in unknown.get_data(as_text=True)


def test_favicon_is_served_where_browsers_ask_for_it(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert b"<svg" in response.get_data()


def test_pages_errors_are_friendly_pages_and_api_errors_stay_json(client, login_as, api_as):
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "We could not find this page" in missing.get_data(as_text=True)
    api = api_as("customer")
    assert api.get("/api/v1/referrals/999999").json["code"] == 404
    login_as("customer")
    refused = client.get("/admin")
    assert refused.status_code == 403
    assert "This page is not open to your account" in refused.get_data(as_text=True)
    assert 'href="/portal">Go to Portal<' in refused.get_data(as_text=True)


def test_portal_explains_the_program_and_offers_share_buttons_and_a_qr_code(client, login_as, app):
    factories.program(amount=2500, min_sale_amount=5000, attribution_days=90, hold_days=14)
    user = login_as("customer")
    page = client.get("/portal").get_data(as_text=True)
    assert ("You earn 25.00 USD for each friend who makes a purchase of at least 50.00 USD within 90 days of your "
            "referral; the reward becomes payable 14 days after their purchase") in page
    for scheme in ('href="mailto:?subject=', 'href="sms:?&amp;body=', 'href="https://wa.me/?text=',
                   'href="https://x.com/intent/post?text='):
        assert scheme in page
    assert user.customer.referral_code in page and "<script src=\"https" not in page
    qr = client.get("/portal/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and qr.get_data().startswith(b"<svg")
