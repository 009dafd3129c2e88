"""Production settings, JSON log lines with request ids, and no secret in any line."""
import io
import json
import logging

import pytest

from config import missing_production_settings
from rewards.ops import logs
from tests import factories
from tests import stripe_events as se
from tests.payouts_support import fake_stripe  # noqa: F401  (fixture)

PRODUCTION = {"SECRET_KEY": "k" * 32, "DATABASE_URL": "postgresql+psycopg://db/refero",
              "PUBLIC_BASE_URL": "https://refer.example.com", "STRIPE_SECRET_KEY": "sk_live_abc",
              "STRIPE_WEBHOOK_SECRET": "whsec_abc", "REFERO_ENV": "production"}


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "PUBLIC_BASE_URL", "STRIPE_WEBHOOK_SECRET"])
def test_production_refuses_to_start_without_a_required_setting(monkeypatch, name):
    from config import ProductionConfig

    for key, value in PRODUCTION.items():
        monkeypatch.setenv(key, value)
    ProductionConfig()  # everything set: starts
    monkeypatch.delenv(name)
    with pytest.raises(RuntimeError, match=f"{name} must be set"):
        ProductionConfig()


def test_webhook_secret_is_needed_only_with_stripe_and_public_url_only_in_a_deployment():
    base = {"SECRET_KEY": "k", "DATABASE_URL": "sqlite:///x.db"}
    assert missing_production_settings(base) == []
    assert missing_production_settings({**base, "STRIPE_SECRET_KEY": "sk_test_x"}) == ["STRIPE_WEBHOOK_SECRET"]
    assert missing_production_settings({**base, "REFERO_ENV": "production"}) == ["PUBLIC_BASE_URL"]
    assert missing_production_settings({"REFERO_ENV": "production", "PUBLIC_BASE_URL": " "}) == [
        "SECRET_KEY", "DATABASE_URL", "PUBLIC_BASE_URL"]


@pytest.mark.parametrize("text, secret", [
    ("calling Stripe with sk_live_51HxYabcDEF123", "51HxYabcDEF123"),
    ("restricted rk_test_9zYxWvUt", "9zYxWvUt"),
    ("webhook secret whsec_smoke_xxxxxxxx", "smoke_xxxxxxxx"),
    ("Authorization: Bearer rk_AbCdEfGh12345678", "AbCdEfGh12345678"),
    ("api key rk_AbCdEfGh12345678 revoked", "AbCdEfGh12345678"),
    ('{"password": "hunter2-hunter2"}', "hunter2-hunter2"),
    ("payment_fingerprint=Xyz0123456789abc", "Xyz0123456789abc"),
    ("tax_id: 12-3456789", "12-3456789"),
    ("ssn 123-45-6789 on file", "123-45-6789"),
    ("reset token=IjEyMyI.ZmFrZQ.sig", "IjEyMyI.ZmFrZQ.sig"),
])
def test_secret_shapes_are_masked_in_text(text, secret):
    assert secret not in logs.redact_text(text)


def test_values_under_sensitive_names_are_masked_at_any_depth():
    record = {"user": "ann@example.com", "tax_id": "987654321", "card": {"fingerprint": "Abc123Def456Ghi7"},
              "headers": {"Stripe-Signature": "t=1,v1=ff00", "Cookie": "session=zz"}, "amount": 500}
    cleaned = logs.redact(record)
    text = json.dumps(cleaned)
    for secret in ("987654321", "Abc123Def456Ghi7", "ff00", "session=zz"):
        assert secret not in text
    assert cleaned["user"] == "ann@example.com" and cleaned["amount"] == 500


@pytest.fixture
def log_lines():
    """Every record logged during the test, as the production JSON handler writes it."""
    stream = io.StringIO()
    handler = logs.json_handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_each_request_has_an_id_in_its_answer_and_its_log_lines(app, client, log_lines):
    @app.get("/test-log")
    def log_something():
        app.logger.info("handling a test", extra={"customer_id": 7})
        return "ok"

    first = client.get("/test-log")
    second = client.get("/test-log", headers={"X-Request-ID": "lb-chosen-id-1234"})
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"] == "lb-chosen-id-1234"
    assert client.get("/healthz", headers={"X-Request-ID": "no spaces allowed"}).headers["X-Request-ID"] != \
        "no spaces allowed"
    lines = [line for line in log_lines() if line["message"] == "handling a test"]
    assert [line["request_id"] for line in lines] == [first.headers["X-Request-ID"], "lb-chosen-id-1234"]
    assert lines[0]["level"] == "INFO" and lines[0]["customer_id"] == 7 and lines[0]["time"].endswith("Z")


def test_no_secret_reaches_a_log_line(app, client, log_lines):
    """An error while handling a request that carries every kind of secret: the traceback is logged, masked."""
    key_user = factories.user("coordinator")
    _, api_key = factories.api_key(key_user)
    app.config["STRIPE_WEBHOOK_SECRET"] = se.WEBHOOK_SECRET

    @app.get("/api/v1/test-crash")
    def crash():
        logging.getLogger("rewards.test").info("payout account", extra={"tax_id": "12-3456789",
                                                                         "payment_fingerprint": "FpFull0123456789"})
        raise RuntimeError(f"Stripe refused sk_live_51SecretKeyValue for tax id 123-45-6789 "
                           f"(webhook secret {se.WEBHOOK_SECRET}, key {api_key})")

    response = client.get("/api/v1/test-crash", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 500
    bad = client.post("/webhooks/stripe", data=b"{}", headers={"Stripe-Signature": "t=1,v1=deadbeef"})
    assert bad.status_code == 400
    text = "\n".join(json.dumps(line) for line in log_lines())
    assert "Traceback" in text and "RuntimeError" in text  # the error is there to read
    for secret in (api_key, "51SecretKeyValue", "123-45-6789", "12-3456789", "FpFull0123456789",
                   se.WEBHOOK_SECRET.removeprefix("whsec_"), "deadbeef"):
        assert secret not in text, secret


def test_stripe_sdk_request_lines_stay_out_of_production_logs(app, fake_stripe, log_lines):
    """Each Stripe call logs two INFO lines from the SDK; production logs keep the executor's own records only."""
    from rewards.payouts import stripe_client
    from tests.payouts_support import stripe_settings

    stripe_logger, root = logging.getLogger("stripe"), logging.getLogger()
    level, disabled, handlers = stripe_logger.level, stripe_logger.disabled, list(root.handlers)
    stripe_logger.disabled = False  # as in a server process (the suite's in-process migrations turned it off)
    app.config.update(stripe_settings(fake_stripe))
    try:
        logs.configure_json_logging("INFO", stream=io.StringIO())  # what a production process does at start
        with app.app_context():
            assert stripe_client.client().transfers_in_group("batch-1-item-1") == []
            app.logger.info("executor finished")
    finally:
        stripe_logger.setLevel(level)
        stripe_logger.disabled = disabled
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
    print(log_lines()); assert "stripe" not in [line["logger"] for line in log_lines()]
    assert "executor finished" in [line["message"] for line in log_lines()]
