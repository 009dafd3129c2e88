"""Getting into an account by email, with the mail received by a real SMTP server and its links followed:
sign-up confirmation, the pre-hijacking cases, claiming an enrolled record, invitations, password reset."""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from rewards.accounts import service as accounts
from rewards.accounts.models import AccountToken, User
from rewards.audit.models import AuditEvent
from rewards.customers.models import Customer
from rewards.extensions import db
from tests import factories
from tests.conftest import Pages, html_of, links_in, text_of

OWNER_PASSWORD = "owner-chosen-lantern-river"
ATTACKER_PASSWORD = "attacker-knows-this-one-77"


def path_of(url):
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def link_to(message, fragment):
    found = [link for link in links_in(message) if fragment in link]
    assert found, f"no {fragment} link in: {text_of(message)}"
    return path_of(found[0])


def signup(pages, email, password, name="Sam Signer"):
    return pages.submit("/signup", {"name": name, "email": email, "password": password})


def user_of(email):
    return db.session.scalar(db.select(User).filter_by(email=email))


def test_signup_creates_nothing_until_the_emailed_link_is_opened(pages, client, smtp):
    response = signup(pages, "Nina@Example.com", OWNER_PASSWORD, name="Nina New")
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    assert user_of("nina@example.com") is None
    assert db.session.scalar(db.select(Customer).filter_by(email="nina@example.com")) is None
    assert pages.login("nina@example.com", OWNER_PASSWORD).status_code == 200  # no account yet

    message = smtp.last_to("nina@example.com")
    assert message["Subject"] == "Confirm your email address"
    assert "Nina New" in text_of(message) and "Nina New" in html_of(message)
    confirm = link_to(message, "/signup/confirm/")
    page = client.get(confirm)
    assert page.status_code == 200 and "type the password you chose" in page.get_data(as_text=True)
    done = pages.submit(confirm, {"password": OWNER_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/portal"
    portal = client.get("/portal").get_data(as_text=True)
    customer = db.session.scalar(db.select(Customer).filter_by(email="nina@example.com"))
    assert "Hello, Nina New" in portal and f"/r/{customer.referral_code}" in portal
    assert customer.user.role == "customer"
    # The link worked once.
    assert client.get(confirm).status_code == 404


def test_a_signup_by_someone_else_gives_them_nothing_even_when_the_owner_opens_the_link(app, pages, smtp):
    signup(pages, "victim@example.com", ATTACKER_PASSWORD)
    confirm = link_to(smtp.last_to("victim@example.com"), "/signup/confirm/")
    # The owner opens the link she did not ask for: without the attacker's password it opens nothing.
    refused = pages.submit(confirm, {"password": OWNER_PASSWORD})
    assert refused.status_code == 422 and "not the password typed at sign-up" in refused.get_data(as_text=True)
    assert user_of("victim@example.com") is None
    # She signs up herself: her own link, her own password.
    other = app.test_client()

    owner = Pages(other)
    signup(owner, "victim@example.com", OWNER_PASSWORD, name="Vera Victim")
    own_link = link_to(smtp.last_to("victim@example.com"), "/signup/confirm/")
    assert own_link != confirm
    assert owner.submit(own_link, {"password": OWNER_PASSWORD}).status_code == 302
    assert accounts.authenticate("victim@example.com", ATTACKER_PASSWORD) is None
    assert accounts.authenticate("victim@example.com", OWNER_PASSWORD) is not None
    # The attacker's pending sign-up died with the owner's confirmation.
    assert pages.submit(confirm, {"password": ATTACKER_PASSWORD}, form_path="/password/reset").status_code == 404


def test_signup_with_an_enrolled_customers_address_never_opens_her_account(app, pages, client, smtp):
    olga = factories.customer(email="olga@example.com", name="Olga Owner")
    factories.referral(olga, referee_name="Private Pete")
    response = signup(pages, "olga@example.com", ATTACKER_PASSWORD, name="Mallory")
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    # Before confirmation: no login, nothing of hers visible.
    assert user_of("olga@example.com") is None
    assert pages.login("olga@example.com", ATTACKER_PASSWORD).status_code == 200
    assert client.get("/portal").status_code == 302

    invitation = smtp.last_to("olga@example.com")
    assert invitation["Subject"] == "Your referral account: set your password"
    assert f"/r/{olga.referral_code}" in text_of(invitation)
    claim = link_to(invitation, "/account/claim/")
    # The owner claims it from the emailed link, with a password of her own.
    owner = app.test_client()

    done = Pages(owner).submit(claim, {"password": OWNER_PASSWORD, "confirm": OWNER_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/portal"
    assert "Private Pete" in owner.get("/portal").get_data(as_text=True)
    db.session.refresh(olga)
    assert olga.user.email == "olga@example.com" and olga.user.name == "Olga Owner"
    # After confirmation, the password typed at sign-up still opens nothing.
    assert pages.login("olga@example.com", ATTACKER_PASSWORD).status_code == 200
    assert client.get("/portal").status_code == 302
    assert accounts.authenticate("olga@example.com", ATTACKER_PASSWORD) is None
    # The claim link is single use.
    assert owner.get(claim).status_code == 404


def test_signup_answers_the_same_for_new_enrolled_and_existing_addresses(pages, smtp):
    factories.customer(email="enrolled@example.com")
    factories.user("customer", email="member@example.com")
    bodies = []
    for address in ("new@example.com", "enrolled@example.com", "member@example.com"):
        response = signup(pages, address, OWNER_PASSWORD)
        assert response.status_code == 200
        bodies.append(response.get_data(as_text=True).replace(address, "ADDRESS"))
    assert bodies[0] == bodies[1] == bodies[2]
    member_mail = smtp.last_to("member@example.com")
    assert member_mail["Subject"] == "You already have an account"
    assert any("/password/reset" in link for link in links_in(member_mail))


def test_staff_enrolment_sends_an_invitation_and_resend_link_really_sends(login_as, pages, client, smtp):
    login_as("coordinator")
    enrolled = pages.submit("/admin/customers/new", {"name": "Ivy Invited", "email": "ivy@example.com", "invite": "y"},
                            follow_redirects=True)
    assert "invitation to set a password is on its way" in enrolled.get_data(as_text=True)
    ivy = db.session.scalar(db.select(Customer).filter_by(email="ivy@example.com"))
    first = smtp.last_to("ivy@example.com")
    assert first["Subject"] == "Your referral account: set your password" and "/account/claim/" in text_of(first)

    sent = pages.submit(f"/admin/customers/{ivy.id}/resend-link", {}, form_path=f"/admin/customers/{ivy.id}",
                        follow_redirects=True)
    assert "on its way to ivy@example.com" in sent.get_data(as_text=True)
    assert len(smtp.to("ivy@example.com")) == 2
    claim = link_to(smtp.last_to("ivy@example.com"), "/account/claim/")
    event = db.session.scalar(db.select(AuditEvent).filter_by(action="customer.link_resent"))
    assert event.entity_id == ivy.id and "/r/" in event.detail["referral_url"]

    pages.logout()
    assert pages.submit(claim, {"password": OWNER_PASSWORD, "confirm": OWNER_PASSWORD}).status_code == 302
    assert client.get("/portal").status_code == 200
    # With a login, "Resend link" sends the referral link alone.
    pages.logout()
    login_as("coordinator")
    pages.submit(f"/admin/customers/{ivy.id}/resend-link", {}, form_path=f"/admin/customers/{ivy.id}")
    last = smtp.last_to("ivy@example.com")
    assert last["Subject"] == "Your referral link" and f"/r/{ivy.referral_code}" in text_of(last)
    assert "/account/claim/" not in text_of(last)


def test_enrolment_without_invitation_sends_nothing(login_as, pages, smtp):
    login_as("coordinator")
    pages.submit("/admin/customers/new", {"name": "Quiet Quinn", "email": "quinn@example.com"})
    assert db.session.scalar(db.select(Customer).filter_by(email="quinn@example.com")) is not None
    assert smtp.to("quinn@example.com") == []


# Password reset.
def request_reset(pages, email):
    return pages.submit("/password/reset", {"email": email})


def test_reset_answer_is_identical_for_known_and_unknown_addresses(pages, smtp):
    factories.user("customer", email="known@example.com")
    known = request_reset(pages, "known@example.com")
    unknown = request_reset(pages, "unknown@example.com")
    assert known.status_code == unknown.status_code == 200
    assert (known.get_data(as_text=True).replace("known@example.com", "X")
            == unknown.get_data(as_text=True).replace("unknown@example.com", "X"))
    assert len(smtp.to("known@example.com")) == 1 and smtp.to("unknown@example.com") == []


def test_reset_link_works_once_and_ends_every_other_session(app, pages, client, smtp):
    user = factories.user("customer", email="rosa@example.com")
    elsewhere = app.test_client()

    Pages(elsewhere).login("rosa@example.com")
    assert elsewhere.get("/portal").status_code == 200

    request_reset(pages, "rosa@example.com")
    message = smtp.last_to("rosa@example.com")
    assert message["Subject"] == "Reset your password"
    reset = link_to(message, "/password/reset/")
    done = pages.submit(reset, {"password": OWNER_PASSWORD, "confirm": OWNER_PASSWORD})
    assert done.status_code == 302
    assert client.get("/portal").status_code == 200           # this browser is logged in
    assert elsewhere.get("/portal").status_code == 302        # every other session is over
    assert accounts.authenticate(user.email, OWNER_PASSWORD) is not None
    again = client.get(reset)
    assert again.status_code == 404 and "expired or was used already" in again.get_data(as_text=True)


def test_reset_link_expires_after_an_hour(pages, client, smtp, monkeypatch):
    factories.user("customer", email="late@example.com")
    request_reset(pages, "late@example.com")
    reset = link_to(smtp.last_to("late@example.com"), "/password/reset/")
    from rewards.accounts import tokens

    later = tokens.utcnow() + timedelta(minutes=61)
    monkeypatch.setattr(tokens, "utcnow", lambda: later)
    assert client.get(reset).status_code == 404
    refused = pages.submit(reset, {"password": OWNER_PASSWORD, "confirm": OWNER_PASSWORD}, form_path="/password/reset")
    assert refused.status_code == 404
    assert accounts.authenticate("late@example.com", OWNER_PASSWORD) is None


def test_reset_link_dies_when_the_password_changes(pages, client, login_as, smtp):
    user = factories.user("customer", email="pat@example.com")
    request_reset(pages, "pat@example.com")
    reset = link_to(smtp.last_to("pat@example.com"), "/password/reset/")
    pages.login(user.email)
    assert pages.submit("/account/password", {"current_password": factories.PASSWORD, "new_password": OWNER_PASSWORD,
                                              "confirm": OWNER_PASSWORD}).status_code == 302
    pages.logout()
    assert client.get(reset).status_code == 404


def test_reset_for_an_enrolled_customer_without_login_sends_the_claim_link(pages, smtp):
    factories.customer(email="nologin@example.com")
    request_reset(pages, "nologin@example.com")
    assert "/account/claim/" in text_of(smtp.last_to("nologin@example.com"))


@pytest.mark.parametrize("path", [
    "/signup/confirm/garbage", "/account/claim/garbage", "/password/reset/garbage",
    "/password/reset/" + "x" * 500, "/signup/confirm/%00%ff", "/account/claim/%3Cscript%3E",
])
def test_bad_tokens_answer_a_clear_404(client, pages, path):
    for response in (client.get(path), pages.submit(path, {"password": OWNER_PASSWORD, "confirm": OWNER_PASSWORD},
                                                    form_path="/password/reset")):
        assert response.status_code == 404, (path, response.status_code)
        assert "This link no longer works" in response.get_data(as_text=True)


def test_garbage_in_the_forms_answers_with_messages_not_errors(pages):
    for path, data in [("/signup", {"name": "\x00", "email": "a@\x00", "password": "\x00" * 20}),
                       ("/signup", {"name": "x" * 5000, "email": "y" * 5000, "password": "z" * 5000}),
                       ("/password/reset", {"email": "\x00not an address"}),
                       ("/password/reset", {"email": "x" * 5000})]:
        response = pages.submit(path, data)
        assert response.status_code in (200, 422), (path, response.status_code)


def test_cli_created_users_log_in_without_any_confirmation(runner, pages):
    result = runner.invoke(args=["users", "create", "--email", "cli@example.com", "--role", "finance"],
                           input=f"{OWNER_PASSWORD}\n{OWNER_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert pages.login("cli@example.com", OWNER_PASSWORD).status_code == 302
    assert db.session.scalar(db.select(AccountToken)) is None
