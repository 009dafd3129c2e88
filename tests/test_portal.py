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
    assert "Rosa thinks you will like us" in page
    response = pages.submit(f"/r/{referrer.referral_code}", {"name": "Lee", "email": "lee@example.com"})
    assert response.status_code == 200 and "Thank you!" in response.get_data(as_text=True)
    referral = db.session.scalar(db.select(Referral).filter_by(referee_email="lee@example.com"))
    assert (referral.referrer_id, referral.source) == (referrer.id, "link")


def test_unknown_referral_code_is_404(client):
    assert client.get("/r/no-such-code").status_code == 404


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
