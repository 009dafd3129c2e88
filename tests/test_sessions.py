"""Sessions and throttles: a new session at login, idle cookies, failed logins per account, sign-up, reset and
password-change limits, and passwords from the common-password lists refused."""
import time

import pytest

from rewards.accounts import service as accounts
from tests import factories
from tests.conftest import Pages, csrf_token

ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"


def browser_at(app, ip):
    """Pages driven from a client at address `ip`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return Pages(client)


def test_login_starts_a_new_session_and_csrf_token(client, pages):
    user = factories.user("customer")
    before = csrf_token(client.get("/login").get_data(as_text=True))
    assert pages.login(user.email).status_code == 302
    after = csrf_token(client.get("/account/password").get_data(as_text=True))
    assert after != before
    # A token planted before the login (session fixation) is worth nothing after it.
    stale = client.post("/account/password", data={"csrf_token": before, "current_password": factories.PASSWORD,
                                                   "new_password": "fresh-lantern-orchard-92",
                                                   "confirm": "fresh-lantern-orchard-92"})
    assert stale.status_code == 400
    assert accounts.authenticate(user.email, factories.PASSWORD) is not None


def test_a_logged_in_cookie_without_its_last_seen_time_is_expired(app, client, login_as):
    login_as("coordinator")
    assert client.get("/admin").status_code == 200
    serializer = app.session_interface.get_signing_serializer(app)
    data = serializer.loads(client.get_cookie("session").value)
    assert "last_seen" in data
    del data["last_seen"]
    client.set_cookie("session", serializer.dumps(data))
    response = client.get("/admin")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.fixture
def clock(monkeypatch):
    """Moves the rate limits' clock (the in-memory storage's) forward without waiting."""
    import limits.storage.memory as memory

    class Clock:
        offset = 0.0

        def time(self):
            return real_time() + self.offset

    real_time, fake = time.time, Clock()
    monkeypatch.setattr(memory, "time", fake)
    return fake


def test_failed_logins_are_throttled_per_account_across_clients(app):
    user = factories.user("customer")
    attacker = Pages(app.test_client())
    assert app.config["LOGIN_ACCOUNT_RATE_LIMIT"] == "5 per 5 minutes"
    for n in range(5):
        # A different client each time: the per-client limit never trips.
        attacker.client.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
        assert attacker.login(user.email, f"guess-number-{n}-wrong").status_code == 200
    attacker.client.environ_base["REMOTE_ADDR"] = ATTACKER
    blocked = attacker.login(user.email)  # even the right password, from a client that never logged in here
    assert blocked.status_code == 429
    assert "Too many failed attempts for this account" in blocked.get_data(as_text=True)


def test_the_owner_still_gets_in_from_a_known_client_and_anyone_after_the_short_window(app, clock):
    user = factories.user("customer")
    owner = browser_at(app, OWNER)
    assert owner.login(user.email).status_code == 302
    owner.logout()
    attacker = browser_at(app, ATTACKER)
    for n in range(5):
        attacker.login(user.email, f"guess-number-{n}-wrong")
    assert attacker.login(user.email).status_code == 429
    # The owner's browser logged in here before: the account's lock does not apply to it.
    assert owner.login(user.email).status_code == 302
    # The lock is short: after its window the right password works from any client.
    clock.offset += 5 * 60 + 1
    newcomer = browser_at(app, "192.0.2.44")
    assert newcomer.login(user.email).status_code == 302


def test_signup_is_throttled_per_client_and_per_address(app, pages):
    statuses = [pages.submit("/signup", {"name": "Sam", "email": f"sam{i}@example.com",
                                         "password": "a-good-long-password"}).status_code for i in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429
    same_address = []
    for n in range(4):
        other = browser_at(app, f"192.0.2.{n + 1}")
        same_address.append(other.submit("/signup", {"name": "Sam", "email": "target@example.com",
                                                     "password": "a-good-long-password"}).status_code)
    assert same_address == [200, 200, 200, 429]


def test_reset_requests_are_throttled_per_client_and_per_address(app, pages):
    statuses = [pages.submit("/password/reset", {"email": f"who{i}@example.com"}).status_code for i in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429
    same_address = []
    for n in range(4):
        other = browser_at(app, f"192.0.2.{n + 1}")
        same_address.append(other.submit("/password/reset", {"email": "Target@example.com "}).status_code)
    assert same_address == [200, 200, 200, 429]


def test_password_changes_are_throttled(pages, login_as):
    login_as("customer")
    statuses = [pages.submit("/account/password", {"current_password": "not-my-password-at-all",
                                                   "new_password": "fresh-lantern-orchard-92",
                                                   "confirm": "fresh-lantern-orchard-92"}).status_code
                for _ in range(6)]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "password1234", "qwertyuiop123", "123456789012"])
def test_common_passwords_are_refused_with_a_clear_message(pages, login_as, password):
    user = login_as("customer")
    response = pages.submit("/account/password", {"current_password": factories.PASSWORD, "new_password": password,
                                                  "confirm": password})
    assert response.status_code == 200
    assert "This password is too easy to guess." in response.get_data(as_text=True)
    assert accounts.authenticate(user.email, factories.PASSWORD) is not None


def test_a_password_made_of_the_users_own_address_is_refused(runner):
    result = runner.invoke(args=["users", "create", "--email", "maximilian.schwarzenegger@example.com",
                                 "--role", "finance"],
                           input="maximilian.schwarzenegger\nmaximilian.schwarzenegger\n")
    assert result.exit_code == 1 and "too easy to guess" in result.output
