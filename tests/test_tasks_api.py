"""The tasks endpoints of /api/v1: create, list, change, move, delete; who may."""
from datetime import date, timedelta

import pytest

from tests import factories


def test_coordinator_creates_lists_moves_and_deletes_tasks(api_as):
    api = api_as("coordinator")
    referral = factories.referral()
    first = api.post("/api/v1/tasks", json={"title": "Call Frank", "referral_id": referral.id,
                                            "assignee_id": api.user.id, "priority": "high",
                                            "due_date": "2030-01-31"})
    assert first.status_code == 201, first.json
    assert {k: first.json[k] for k in ("title", "status", "position", "priority", "referral_id", "assignee_id",
                                        "due_date", "overdue", "created_by_id")} == {
        "title": "Call Frank", "status": "todo", "position": 0, "priority": "high", "referral_id": referral.id,
        "assignee_id": api.user.id, "due_date": "2030-01-31", "overdue": False, "created_by_id": api.user.id}
    second = api.post("/api/v1/tasks", json={"title": "Write to Gina", "status": "todo"}).json
    assert second["position"] == 1 and second["priority"] == "normal"

    moved = api.patch(f"/api/v1/tasks/{second['id']}", json={"status": "doing"})
    assert moved.status_code == 200 and moved.json["status"] == "doing" and moved.json["position"] == 0

    doing = api.get("/api/v1/tasks?status=doing")
    assert [t["id"] for t in doing.json] == [second["id"]]
    assert doing.headers["X-Pagination"]
    mine = api.get(f"/api/v1/tasks?assignee_id={api.user.id}")
    assert [t["id"] for t in mine.json] == [first.json["id"]]

    assert api.delete(f"/api/v1/tasks/{first.json['id']}").status_code == 204
    assert api.get(f"/api/v1/tasks/{first.json['id']}").status_code == 404
    assert [t["id"] for t in api.get("/api/v1/tasks").json] == [second["id"]]


def test_position_reorders_a_column(api_as):
    api = api_as("coordinator")
    ids = [api.post("/api/v1/tasks", json={"title": f"T{i}"}).json["id"] for i in range(3)]
    assert api.patch(f"/api/v1/tasks/{ids[2]}", json={"position": 0}).status_code == 200
    column = api.get("/api/v1/tasks?status=todo").json
    assert [(t["id"], t["position"]) for t in column] == [(ids[2], 0), (ids[0], 1), (ids[1], 2)]


def test_overdue_is_reported_until_done(api_as):
    api = api_as("coordinator")
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    task = api.post("/api/v1/tasks", json={"title": "Late", "due_date": yesterday}).json
    assert task["overdue"] is True
    assert api.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done"}).json["overdue"] is False


@pytest.mark.parametrize("body, field", [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "x", "status": "later"}, "status"),
    ({"title": "x", "priority": "urgent"}, "priority"),
    ({"title": "x", "due_date": "tomorrow"}, "due_date"),
    ({"title": "x", "referral_id": 999999}, "referral_id"),
    ({"title": "x", "customer_id": 999999}, "customer_id"),
    ({"title": "x", "assignee_id": 999999}, "assignee_id"),
    ({"title": "x", "colour": "red"}, "colour"),
])
def test_invalid_tasks_are_refused_with_422(api_as, body, field):
    response = api_as("coordinator").post("/api/v1/tasks", json=body)
    assert response.status_code == 422, response.json
    assert field in str(response.json["errors"])


def test_a_customer_cannot_be_assigned_a_task(api_as):
    api = api_as("coordinator")
    customer_user = factories.user(role="customer")
    response = api.post("/api/v1/tasks", json={"title": "x", "assignee_id": customer_user.id})
    assert response.status_code == 422
    assert response.json["errors"] == {"assignee_id": ["The assignee must be a staff user."]}


@pytest.mark.parametrize("role", ["finance", "customer"])
def test_finance_and_customers_cannot_read_or_change_tasks(api_as, role):
    task = api_as("coordinator").post("/api/v1/tasks", json={"title": "Private"}).json
    api = api_as(role)
    calls = [api.get("/api/v1/tasks"), api.post("/api/v1/tasks", json={"title": "Mine"}),
             api.get(f"/api/v1/tasks/{task['id']}"),
             api.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done"}),
             api.delete(f"/api/v1/tasks/{task['id']}")]
    assert [c.status_code for c in calls] == [403] * 5
    assert calls[1].json["code"] == 403
    coordinator = api_as("coordinator")
    assert [t["title"] for t in coordinator.get("/api/v1/tasks").json] == ["Private"]
    assert coordinator.get(f"/api/v1/tasks/{task['id']}").json["status"] == "todo"


def test_every_change_is_audited(api_as, app):
    from rewards.audit.models import AuditEvent
    from rewards.extensions import db

    api = api_as("coordinator")
    task = api.post("/api/v1/tasks", json={"title": "Audit me"}).json
    api.patch(f"/api/v1/tasks/{task['id']}", json={"title": "Audited", "status": "done"})
    api.delete(f"/api/v1/tasks/{task['id']}")
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.entity_type == "tasks")
                                .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["task.created", "task.moved", "task.updated", "task.deleted"]
    assert all(e.actor_user_id == api.user.id for e in events)
    assert events[2].detail == {"title": "Audited"}
