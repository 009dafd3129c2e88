"""Headers every response carries, and no caching of personal pages."""
import pytest


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/openapi.json", "/no-such-page"])
def test_security_headers_everywhere(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_pages_with_personal_data_are_not_cached(client, login_as):
    login_as("customer")
    assert client.get("/portal").headers["Cache-Control"] == "no-store"


def test_pages_carry_no_inline_script(client, login_as):
    login_as("customer")
    page = client.get("/portal").get_data(as_text=True)
    assert "<script>" not in page and " onclick=" not in page


def test_session_cookie_flags(pages, app):
    from tests import factories

    user = factories.user("coordinator")
    response = pages.login(user.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.fixture
def production_app(migrated):
    from config import ProductionConfig
    from rewards import create_app
    from tests.conftest import IsolatedClient

    import os
    os.environ.update(SECRET_KEY="production-test-key", DATABASE_URL=migrated)
    try:
        config = ProductionConfig()
    finally:
        del os.environ["SECRET_KEY"], os.environ["DATABASE_URL"]
    config.SQLALCHEMY_DATABASE_URI = migrated
    config.LOG_FORMAT = "text"  # JSON lines would go to this test process's standard error
    app = create_app(config)
    app.test_client_class = IsolatedClient
    return app


def test_production_sets_hsts_and_secure_cookies(production_app):
    client = production_app.test_client()
    response = client.get("/login", base_url="https://refero.example.com")
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    assert "Secure" in response.headers["Set-Cookie"]


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    from config import ProductionConfig

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        ProductionConfig()
