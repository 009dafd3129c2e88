"""Links for people (referral links, links in mail) come from PUBLIC_BASE_URL, never from the request's Host header."""
import pytest

from config import ProductionConfig, missing_production_settings
from tests import factories


@pytest.mark.parametrize("base, expected", [("https://rewards.example", "https://rewards.example/r/"), (None, "/r/")])
def test_referral_links_never_take_the_host_header(app, client, monkeypatch, base, expected):
    # As production runs: neither testing nor debug.
    monkeypatch.setitem(app.config, "TESTING", False)
    monkeypatch.setitem(app.config, "DEBUG", False)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", base)
    customer = factories.customer()
    _, secret = factories.api_key(factories.user("coordinator"))
    response = client.get(f"/api/v1/customers/{customer.id}",
                          headers={"Authorization": f"Bearer {secret}", "Host": "evil.example"})
    assert response.status_code == 200
    assert response.json["referral_url"] == f"{expected}{customer.referral_code}"
    assert "evil.example" not in response.get_data(as_text=True)


def test_production_refuses_to_send_mail_without_a_public_base_url(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "a-production-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db.example/refero")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.com")
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("REFERO_ENV", raising=False)
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL must be set"):
        ProductionConfig()
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://rewards.example")
    assert not missing_production_settings()
    ProductionConfig()  # starts
