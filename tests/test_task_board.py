"""The task board pages (forms, the no-JavaScript move, drag-and-drop's JSON move) and the automatic tasks."""
import re
from datetime import timedelta

import pytest

from rewards import events
from rewards.extensions import db
from rewards.referrals.models import Referral
from rewards.tasks import service
from rewards.tasks.models import Task
from tests import factories
from tests.conftest import csrf_token


def _task(title="Card", status="todo", **fields):
    task = service.create_task({"title": title, "status": status, **fields})
    db.session.commit()
    return task


def _column(html, status):
    """Card titles in one column of the board page, top to bottom."""
    block = re.search(rf'data-status="{status}".*?</ol>', html, re.S).group(0)
    return re.findall(r'class="fw-semibold task-title"[^>]*>([^<]+)<', block)


def test_coordinator_creates_a_task_from_a_referral_and_moves_it_without_javascript(login_as, pages, client):
    coordinator = login_as("coordinator")
    referral = factories.referral(referee_name="Frank Friend")
    form = client.get(f"/admin/tasks/new?referral_id={referral.id}").get_data(as_text=True)
    assert f'value="{referral.id}"' in form and '<label class="form-label" for="title">Title</label>' in form

    response = pages.submit("/admin/tasks/new", {
        "title": "Call Frank", "description": "About the offer", "status": "todo", "assignee_id": coordinator.id,
        "due_date": "2030-05-01", "priority": "high", "referral_id": referral.id}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Task “Call Frank” added to To do." in html
    assert _column(html, "todo") == ["Call Frank"]
    task = db.session.scalar(db.select(Task))
    assert (task.referral_id, task.assignee_id, task.created_by_id, str(task.due_date)) == (
        referral.id, coordinator.id, coordinator.id, "2030-05-01")

    moved = pages.submit(f"/admin/tasks/{task.id}/move", {"status": "doing"}, form_path="/admin/tasks",
                         follow_redirects=True).get_data(as_text=True)
    assert "Task “Call Frank” moved to Doing." in moved
    assert _column(moved, "doing") == ["Call Frank"] and _column(moved, "todo") == []


def test_drag_and_drop_json_move_places_the_card_after_its_neighbour(login_as, client):
    login_as("coordinator")
    a, b, c = _task("A", "doing"), _task("B", "doing"), _task("C")
    token = csrf_token(client.get("/admin/tasks").get_data(as_text=True))
    response = client.post(f"/admin/tasks/{c.id}/move", json={"status": "doing", "after_id": a.id},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json["status"] == "doing"
    assert _column(client.get("/admin/tasks").get_data(as_text=True), "doing") == ["A", "C", "B"]

    top = client.post(f"/admin/tasks/{b.id}/move", json={"status": "doing", "after_id": None},
                      headers={"X-CSRFToken": token})
    assert top.status_code == 200
    assert _column(client.get("/admin/tasks").get_data(as_text=True), "doing") == ["B", "A", "C"]

    bad = client.post(f"/admin/tasks/{b.id}/move", json={"status": "later"}, headers={"X-CSRFToken": token})
    assert bad.status_code == 422 and "status" in bad.json["errors"]
    no_token = client.post(f"/admin/tasks/{b.id}/move", json={"status": "done"})
    assert no_token.status_code == 400
    assert db.session.get(Task, b.id).status == "doing"


def test_board_filters_by_assignee_and_marks_overdue_cards(login_as, client):
    me = login_as("coordinator")
    other = factories.user(role="coordinator", name="Olga Other")
    _task("Mine, late", assignee_id=me.id, due_date=service.today() - timedelta(days=1))
    _task("Theirs", assignee_id=other.id, due_date=service.today() + timedelta(days=3))
    _task("Finished late", "done", assignee_id=me.id, due_date=service.today() - timedelta(days=5))

    html = client.get(f"/admin/tasks?assignee={me.id}").get_data(as_text=True)
    assert _column(html, "todo") == ["Mine, late"] and _column(html, "done") == ["Finished late"]
    assert html.count("task-overdue") == 1 and html.count(">Overdue<") == 1
    everyone = client.get("/admin/tasks").get_data(as_text=True)
    assert _column(everyone, "todo") == ["Mine, late", "Theirs"]


def test_edit_and_delete_a_task(login_as, pages, client):
    login_as("coordinator")
    task_id = _task("Old title").id
    edited = pages.submit(f"/admin/tasks/{task_id}/edit", {"title": "New title", "status": "done",
                                                           "priority": "low", "assignee_id": "None"},
                          follow_redirects=True).get_data(as_text=True)
    assert "Task “New title” saved." in edited and _column(edited, "done") == ["New title"]
    invalid = pages.submit(f"/admin/tasks/{task_id}/edit", {"title": "", "status": "done", "priority": "low",
                                                            "assignee_id": "None", "referral_id": "999999"})
    assert invalid.status_code == 422
    deleted = pages.submit(f"/admin/tasks/{task_id}/delete", {}, form_path=f"/admin/tasks/{task_id}/edit",
                           follow_redirects=True).get_data(as_text=True)
    assert "Task “New title” deleted." in deleted and db.session.get(Task, task_id) is None


def test_unknown_referral_on_the_form_is_shown_as_a_field_error(login_as, pages):
    login_as("coordinator")
    response = pages.submit("/admin/tasks/new", {"title": "x", "status": "todo", "priority": "normal",
                                                 "assignee_id": "None", "referral_id": "999999"})
    assert response.status_code == 422
    assert "No such referral." in response.get_data(as_text=True)
    assert db.session.scalar(db.select(Task)) is None


@pytest.mark.parametrize("role", ["finance", "customer"])
def test_finance_and_customers_cannot_see_or_change_the_board(app, login_as, client, role):
    task = _task("Private")
    login_as(role)
    app.config["WTF_CSRF_ENABLED"] = False  # the role is under test, not the token
    responses = [client.get("/admin/tasks"), client.post("/admin/tasks/new", data={"title": "x"}),
                 client.post(f"/admin/tasks/{task.id}/move", data={"status": "done"}),
                 client.post(f"/admin/tasks/{task.id}/move", json={"status": "done"}),
                 client.post(f"/admin/tasks/{task.id}/edit", data={"title": "Mine"}),
                 client.post(f"/admin/tasks/{task.id}/delete"),
                 client.post("/admin/tasks/settings", data={})]
    assert [r.status_code for r in responses] == [403] * 7
    db.session.expire_all()
    assert (db.session.get(Task, task.id).status, db.session.get(Task, task.id).title) == ("todo", "Private")


def test_a_new_referral_makes_a_contact_task_once(api_as):
    api = api_as("coordinator")
    referrer = factories.customer()
    response = api.post("/api/v1/referrals", json={"referrer_id": referrer.id, "referee_email": "gina@example.com",
                                                   "referee_name": "Gina Guest"})
    assert response.status_code == 201
    tasks = api.get("/api/v1/tasks").json
    assert [(t["title"], t["referral_id"], t["customer_id"], t["status"]) for t in tasks] == [
        ("Contact Gina Guest", response.json["id"], referrer.id, "todo")]
    assert tasks[0]["due_date"] == (service.today() + timedelta(days=2)).isoformat()
    referral = db.session.get(Referral, response.json["id"])
    events.referral_created.send(referral)  # the same event again (a retry) makes no second card
    db.session.commit()
    assert len(api.get("/api/v1/tasks").json) == 1


def test_a_referral_in_review_makes_a_review_task(app):
    referral = factories.referral(status="review", referee_name="Rex Review")
    events.referral_needs_review.send(referral, reason="The buyer's card was used by the referrer.")
    db.session.commit()
    task = db.session.scalar(db.select(Task))
    assert (task.title, task.priority, task.referral_id, task.description) == (
        "Review referral of Rex Review", "high", referral.id, "The buyer's card was used by the referrer.")


def test_switching_a_kind_off_in_settings_stops_its_tasks(login_as, pages, client):
    login_as("coordinator")
    page = client.get("/admin/tasks/settings").get_data(as_text=True)
    assert 'id="kind-contact_referee" name="contact_referee" checked' in page
    saved = pages.submit("/admin/tasks/settings", {"review_referral": "on"}, follow_redirects=True)
    assert "Settings saved." in saved.get_data(as_text=True)
    assert 'name="contact_referee">' in saved.get_data(as_text=True)  # now unchecked

    referral = factories.referral()
    events.referral_created.send(referral)
    events.referral_needs_review.send(referral)
    db.session.commit()
    assert [t.title for t in db.session.scalars(db.select(Task))] == [f"Review referral of {referral.referee_name}"]
