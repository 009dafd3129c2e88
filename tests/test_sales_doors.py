"""The three doors a sale comes in by (API, CSV import, Stripe) share one path: the same cleaning, content
hash, landing and audit events."""
import io
from datetime import datetime, timezone

import pytest

from rewards.audit.models import AuditEvent
from rewards.extensions import db
from rewards.sales.models import Refund, Sale
from rewards.sales.rows import clean_sale
from tests import factories
from tests import stripe_events as se


@pytest.fixture
def app_config():
    return {"STRIPE_WEBHOOK_SECRET": se.WEBHOOK_SECRET}


def _events(action):
    return db.session.execute(db.select(AuditEvent.entity_id, AuditEvent.detail).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)).all()


def test_a_stripe_sale_is_cleaned_and_hashed_as_an_api_report_of_it_would_be(client, api_as):
    charge = se.charge(payment_intent="pi_doors", amount=4200, email="Frank@Example.com", fingerprint=None)
    assert se.deliver(client, se.event("charge.succeeded", charge)).status_code == 200
    sale = db.session.scalar(db.select(Sale))
    occurred_at = datetime.fromtimestamp(charge["created"], timezone.utc).isoformat()
    same = {"external_id": "pi_doors", "email": "frank@example.com", "amount": 4200, "currency": "usd",
            "occurred_at": occurred_at}
    assert (sale.email, sale.content_hash) == ("frank@example.com", clean_sale(same)["content_hash"])
    assert _events("sale.recorded") == [(sale.id, {"external_id": "pi_doors", "source": "stripe", "amount": 4200,
                                                   "currency": "usd"})]

    api = api_as("coordinator")
    assert api.post("/api/v1/sales", json=same).status_code == 200  # the same sale again: nothing new
    assert api.post("/api/v1/sales", json={**same, "amount": 4300}).status_code == 409


def test_a_stripe_event_whose_sale_cannot_be_cleaned_is_refused_and_recorded(client):
    charge = se.charge(payment_intent="pi_odd", currency="us dollars")
    evt = se.event("charge.succeeded", charge)
    response = se.deliver(client, evt)
    assert response.status_code == 400 and "currency" in response.json["errors"]["data"]["object"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Sale)) == 0
    rejected = db.session.scalars(db.select(AuditEvent).filter_by(action="stripe.event_rejected")).all()
    assert [event.detail["event_id"] for event in rejected] == [evt["id"]]


def test_the_csv_import_leaves_the_audit_events_the_api_leaves(api_as):
    api = api_as("coordinator")
    api.post("/api/v1/sales/s-api/refunds", json={"amount": 100, "external_id": "re-api"})
    api.post("/api/v1/sales/s-csv/refunds", json={"amount": 100, "external_id": "re-csv"})
    api.post("/api/v1/sales", json={"external_id": "s-api", "email": "a@example.com", "amount": 1000,
                                    "currency": "usd", "occurred_at": "2026-03-01T10:00:00Z"})
    csv = b"external_id,email,amount,currency,occurred_at\ns-csv,b@example.com,1000,usd,2026-03-01T10:00:00Z\n"
    assert api.post("/api/v1/sales/import", data={"file": (io.BytesIO(csv), "sales.csv")},
                    content_type="multipart/form-data").json["created"] == 1

    sales = {s.external_id: s.id for s in db.session.scalars(db.select(Sale))}
    refunds = {r.external_id: r.id for r in db.session.scalars(db.select(Refund))}
    assert [(entity, detail["source"]) for entity, detail in _events("sale.recorded")] == [
        (sales["s-api"], "api"), (sales["s-csv"], "csv")]
    assert _events("refund.applied") == [(refunds["re-api"], {"sale_id": sales["s-api"]}),
                                         (refunds["re-csv"], {"sale_id": sales["s-csv"]})]
