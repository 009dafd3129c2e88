"""Fixtures: an app on the test database (SQLite by default, PostgreSQL with TEST_DATABASE_URL), clients, logins."""
import contextvars
import email
import email.policy
import os
import re
import time
import uuid
from urllib.parse import quote

import flask_migrate
import pytest
import sqlalchemy as sa

from flask import has_app_context
from flask.testing import FlaskClient

from config import TestingConfig
from rewards import create_app
from rewards.extensions import db
from tests import factories

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the project's root
MIGRATIONS = os.path.join(ROOT, "migrations")


def _postgres_url_with_fresh_schema(url):
    """A schema of this run's own (dropped at the end), so runs never see each other's rows."""
    schema = f"test_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}", engine, schema


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if url and url.startswith("postgresql"):
        scoped, engine, schema = _postgres_url_with_fresh_schema(url)
        yield scoped
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def migrated(database_url):
    """The schema comes from the migrations, as in production."""
    app = create_app(_config(database_url))
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS, revision="heads")
        db.engine.dispose()
    return database_url


def _config(database_url, **overrides):
    return type("Config", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": database_url, **overrides})


@pytest.fixture
def app_config():
    """Per-test config overrides: a test sets keys here before asking for `app`."""
    return {}


class IsolatedClient(FlaskClient):
    """Runs each request in its own app context, as production does: `g`, the logged-in user and the
    database session never leak from the test (or an earlier request) into a request."""

    def open(self, *args, **kwargs):
        # Buffered, as a server sends it: the response is closed at once, so the work a view leaves for after
        # the response (inline background jobs, mail) has run when the test looks.
        kwargs.setdefault("buffered", True)
        if self.preserve_context:  # `with client:` asks to keep the request's context for inspection
            return super().open(*args, **kwargs)
        # A streamed body is read (and closed) inside the request's own context, as a WSGI server does.
        kwargs.setdefault("buffered", True)
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            db.session.expire_all()  # the test's own objects see what the request wrote
        return response


@pytest.fixture
def app(migrated, app_config, tmp_path):
    app = create_app(_config(migrated, MAIL_OUTBOX_DIR=str(tmp_path / "outbox"), **app_config))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        _empty_all_tables()
        db.engine.dispose()


def _empty_all_tables():
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def is_postgres(app):
    return db.engine.dialect.name == "postgresql"


@pytest.fixture
def postgres(app):
    """For tests of locking and concurrency: they need PostgreSQL (CI runs the suite on both databases)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: run with TEST_DATABASE_URL=postgresql+psycopg://…")
    return app


class Mailbox:
    """A real SMTP server (aiosmtpd) on a free loopback port; `messages` are the parsed emails it received."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        self.controller = Controller(self, hostname="127.0.0.1", port=_free_port())
        self.port = self.controller.port

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message.envelope_recipients = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()

    def to(self, address):
        return [m for m in self.messages if address in m.envelope_recipients]

    def last_to(self, address, wait_seconds=10):
        """The last message to `address`, waiting for it: mail is sent after the response that caused it, so a
        browser may show the answer before the message reaches the server."""
        deadline = time.monotonic() + wait_seconds
        while not (found := self.to(address)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert found, f"no message to {address}; got: {[(m['To'], m['Subject']) for m in self.messages]}"
        return found[-1]


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def links_in(message) -> list[str]:
    return re.findall(r"https?://[^\s<>\"]+", text_of(message))


@pytest.fixture
def smtp(app):
    """The app sends its mail through Flask-Mail to a real SMTP server started for the test."""
    from rewards.extensions import mail

    box = Mailbox()
    box.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=box.port)
    mail.init_app(app)
    yield box
    box.stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no csrf_token field"
    return match.group(1)


class Pages:
    """Drives the HTML forms as a browser would, csrf_token included."""

    def __init__(self, client):
        self.client = client

    def submit(self, path, data, form_path=None, **kwargs):
        token = csrf_token(self.client.get(form_path or path).get_data(as_text=True))
        return self.client.post(path, data={**data, "csrf_token": token}, **kwargs)

    def login(self, email, password=factories.PASSWORD):
        return self.submit("/login", {"email": email, "password": password})

    def logout(self):
        token = csrf_token(self.client.get("/account/password").get_data(as_text=True))
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def pages(client):
    return Pages(client)


@pytest.fixture
def login_as(app, pages):
    """Log the test client in as a new user of `role`; returns the user."""

    def login(role="coordinator", **kwargs):
        user = factories.user(role=role, **kwargs)
        response = pages.login(user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return login


class ApiClient:
    """The JSON API as an integration calls it: Bearer key on every request."""

    def __init__(self, client, key):
        self.client, self.headers = client, {"Authorization": f"Bearer {key}"}

    def __getattr__(self, method):
        def call(path, json=None, **kwargs):
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return getattr(self.client, method)(path, json=json, headers=headers, **kwargs)

        return call


@pytest.fixture
def api_as(app, client):
    """An API client acting as a new user of `role` (or as `user=`)."""

    def make(role="coordinator", user=None, **kwargs):
        user = user or factories.user(role=role, **kwargs)
        _, secret = factories.api_key(user)
        api = ApiClient(client, secret)
        api.user = user
        return api

    return make


def _answered_from_memory(app):
    """werkzeug's development server skips closing a response when the browser has dropped the connection (a
    favicon cancelled by the next navigation): the open static file is left to the garbage collector, whose
    ResourceWarning then fails whichever later test is running. Each response is read and closed at once."""

    def serve(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return serve


@pytest.fixture
def live_server(app):
    """The app served over HTTP on a free loopback port, in a thread, for the real browser."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, _answered_from_memory(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    thread.join(5)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, driven by Playwright (which never downloads a browser here)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    # `expect(...)` waits for what a click brings (a plain is_visible() reads the page as it is that instant).
    from playwright.sync_api import expect
    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open a fresh browser context (its own cookies) on the live server; closed after the test."""
    contexts = []

    def make(**kwargs):
        context = browser.new_context(base_url=live_server.url, **kwargs)
        context.set_default_timeout(20_000)  # generous: CI machines may be busy
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


ARTIFACTS = os.path.join(ROOT, "test-artifacts")


@pytest.fixture
def screenshot():
    """Save a screenshot under test-artifacts/ (kept after the run for people to look at)."""

    def take(page, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, f"{name}.png")
        page.screenshot(path=path, full_page=True)
        return path

    return take
