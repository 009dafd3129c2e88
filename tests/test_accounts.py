"""Logging in and out, sign-up, sessions the server can end, passwords, throttling, CSRF."""
from datetime import timedelta

import pytest

from rewards.accounts import service as accounts
from rewards.accounts.models import User
from rewards.extensions import db
from tests import factories


def test_login_and_logout(pages, client, login_as):
    login_as("coordinator")
    assert client.get("/admin").status_code == 200
    assert pages.logout().status_code == 302
    assert client.get("/admin").status_code == 302


def test_wrong_password_is_refused_with_a_message(pages, app):
    user = factories.user("coordinator")
    response = pages.login(user.email, "wrong-password-123")
    assert response.status_code == 200
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert pages.login("nobody@example.com").status_code == 200


def test_session_cookie_replayed_after_logout_is_refused(pages, client, login_as, app):
    login_as("coordinator")
    cookie = client.get_cookie("session").value
    pages.logout()
    other = app.test_client()
    other.set_cookie("session", cookie)
    response = other.get("/admin")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_password_change_ends_other_sessions(pages, client, login_as, app):
    user = login_as("customer")
    second = app.test_client()
    second.set_cookie("session", client.get_cookie("session").value)
    assert second.get("/portal").status_code == 200
    response = pages.submit("/account/password", {"current_password": factories.PASSWORD,
                                                  "new_password": "a-brand-new-password",
                                                  "confirm": "a-brand-new-password"})
    assert response.status_code == 302
    assert client.get("/portal").status_code == 200  # this browser stays logged in
    assert second.get("/portal").status_code == 302  # the other session is over
    assert accounts.authenticate(user.email, "a-brand-new-password") is not None


def test_disabling_a_user_ends_their_session(client, login_as, runner):
    user = login_as("coordinator")
    assert client.get("/admin").status_code == 200
    result = runner.invoke(args=["users", "disable", "--email", user.email])
    assert result.exit_code == 0
    assert client.get("/admin").status_code == 302
    assert accounts.authenticate(user.email, factories.PASSWORD) is None


def test_idle_session_is_logged_out(client, login_as, app, monkeypatch):
    login_as("coordinator")
    assert client.get("/admin").status_code == 200
    from rewards.accounts import auth

    later = auth.utcnow() + timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    assert client.get("/admin").status_code == 302


@pytest.mark.parametrize("target, expected", [
    ("/portal/referrals/new", "/portal/referrals/new"),
    ("https://evil.example.com/", "/portal"),
    ("//evil.example.com/", "/portal"),
    ("/\\evil.example.com", "/portal"),
])
def test_login_follows_next_only_within_the_site(pages, target, expected):
    user = factories.user("customer")
    token_page = f"/login?next={target}"
    response = pages.submit(token_page, {"email": user.email, "password": factories.PASSWORD}, form_path="/login")
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_form_without_csrf_token_is_refused(client):
    user = factories.user("coordinator")
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.get("/admin").status_code == 302


def test_login_is_throttled_per_client(pages, app):
    # Different accounts each time: the per-client limit, not the per-account one, is under test.
    statuses = [pages.login(f"guess{i}@example.com", "guessing-password-x").status_code for i in range(11)]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    # Even the right password waits out the limit.
    user = factories.user("coordinator")
    assert pages.login(user.email).status_code == 429


@pytest.mark.parametrize("fields, message", [
    ({"password": "short"}, "at least 12 and at most 128"),
    ({"password": "x" * 129}, "at least 12 and at most 128"),
    ({"email": "not-an-email"}, "Not a valid email"),
    ({"password": "aaaaaaaaaaaa"}, "too easy to guess"),
])
def test_signup_refusals(pages, fields, message):
    data = {"name": "Sam", "email": "sam@example.com", "password": "a-good-long-password", **fields}
    response = pages.submit("/signup", data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(db.select(User).filter_by(email="sam@example.com")) is None


def test_passwords_are_hashed_with_argon2id(app):
    user = accounts.create_user("hash@example.com", "a-good-long-password", "finance")
    assert user.password_hash.startswith("$argon2id$")
    assert "a-good-long-password" not in user.password_hash
    long_password = "plum-" * 12 + "tree"
    accounts.create_user("long@example.com", long_password, "finance")
    assert accounts.authenticate("long@example.com", long_password).email == "long@example.com"
