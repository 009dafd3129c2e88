"""Links for people (referral links, links in mail) come from PUBLIC_BASE_URL, never from the request's Host header."""
import pytest

from config import ProductionConfig
from rewards import create_app
from tests import factories
from tests.conftest import IsolatedClient, _config


@pytest.fixture
def production_like(migrated, tmp_path):
    """The app as production runs it (not testing, not debug), on the test database."""

    def make(**overrides):
        app = create_app(_config(migrated, TESTING=False, DEBUG=False, MAIL_OUTBOX_DIR=str(tmp_path), **overrides))
        app.test_client_class = IsolatedClient
        return app

    return make


@pytest.mark.parametrize("base, expected", [("https://rewards.example", "https://rewards.example/r/"), (None, "/r/")])
def test_referral_links_never_take_the_host_header(app, production_like, base, expected):
    production = production_like(PUBLIC_BASE_URL=base)
    customer = factories.customer()
    _, secret = factories.api_key(factories.user("coordinator"))
    with production.app_context():
        response = production.test_client().get(f"/api/v1/customers/{customer.id}",
                                                headers={"Authorization": f"Bearer {secret}", "Host": "evil.example"})
    assert response.status_code == 200
    assert response.json["referral_url"] == f"{expected}{customer.referral_code}"
    assert "evil.example" not in response.get_data(as_text=True)


def test_production_refuses_to_send_mail_without_a_public_base_url(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-production-secret")
    config = type("Config", (ProductionConfig,), {"MAIL_SERVER": "smtp.example.com", "PUBLIC_BASE_URL": None})
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL must be set"):
        config()
    ready = type("Config", (ProductionConfig,), {"MAIL_SERVER": "smtp.example.com",
                                                 "PUBLIC_BASE_URL": "https://rewards.example"})
    assert ready().PUBLIC_BASE_URL == "https://rewards.example"
