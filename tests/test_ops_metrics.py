"""GET /metrics: Prometheus text for this machine or a token holder; latency, webhook backlog and lag, counters."""
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.sales.models import StripeEvent


def samples(response) -> dict:
    """{(name, labels as sorted tuple): value} of a Prometheus text answer."""
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_loopback_scrapes_latency_by_endpoint(client):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = samples(response)
    key = ("refero_http_request_duration_seconds_count",
           (("endpoint", "health.healthz"), ("method", "GET"), ("status", "200")))
    assert found[key] >= 1
    for name in ("refero_mail_sent_total", "refero_mail_failed_total", "refero_webhook_backlog",
                 "refero_webhook_lag_seconds"):
        assert any(sample_name == name for sample_name, _ in found), name


@pytest.mark.parametrize("headers, environ, status", [
    ({}, {"REMOTE_ADDR": "203.0.113.9"}, 403),
    ({"Authorization": "Bearer wrong-token"}, {"REMOTE_ADDR": "203.0.113.9"}, 403),
    ({"Authorization": "Bearer scrape-token-123"}, {"REMOTE_ADDR": "203.0.113.9"}, 200),
    ({"X-Forwarded-For": "203.0.113.9"}, {"REMOTE_ADDR": "127.0.0.1"}, 403),  # a local proxy's client
    ({}, {"REMOTE_ADDR": "::1"}, 200),
])
def test_only_this_machine_or_a_token_holder_may_scrape(app, client, headers, environ, status):
    app.config["METRICS_TOKEN"] = "scrape-token-123"
    response = client.get("/metrics", headers=headers, environ_base=environ)
    assert response.status_code == status
    if status == 403:
        assert b"refero_" not in response.data


def test_without_a_token_configured_a_remote_bearer_is_refused(client):
    response = client.get("/metrics", headers={"Authorization": "Bearer "},
                          environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 403


def test_webhook_backlog_and_lag_count_stored_unprocessed_events(client):
    now = utcnow()
    db.session.add_all([
        StripeEvent(id="evt_waiting_old", type="charge.succeeded", payload={}, received_at=now - timedelta(seconds=90)),
        StripeEvent(id="evt_waiting_new", type="charge.succeeded", payload={}, received_at=now),
        StripeEvent(id="evt_done", type="charge.succeeded", payload={}, received_at=now - timedelta(hours=1),
                    processed_at=now - timedelta(hours=1)),
    ])
    db.session.commit()
    found = samples(client.get("/metrics"))
    assert found[("refero_webhook_backlog", ())] == 2
    assert 90 <= found[("refero_webhook_lag_seconds", ())] < 120
