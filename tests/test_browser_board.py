"""Real-browser flow of the coordinator: dashboard, pipeline filter, referral, task from it, drag across the board."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from rewards.extensions import db
from rewards.tasks import service
from rewards.tasks.models import Task
from tests import factories
from tests.staff_data import seed_dashboard

pytestmark = pytest.mark.browser


def _drag(page, card, column):
    """Drag the card (by its edge, not a link) to the bottom of a column; returns once the move is saved."""
    target = page.locator(f'ol.task-list[data-status="{column}"]')
    box = target.bounding_box()
    with page.expect_response(lambda r: "/move" in r.url and r.request.method == "POST") as saved:
        card.drag_to(target, source_position={"x": 4, "y": 4},
                     target_position={"x": box["width"] / 2, "y": box["height"] - 8})
    assert saved.value.status == 200, saved.value.text()


def test_coordinator_filters_opens_a_referral_and_works_the_task_through_the_board(new_page, screenshot):
    coordinator = factories.user(role="coordinator", name="Cora Coordinator")
    seed_dashboard()
    factories.referral(factories.customer(name="Lena Link"), referee_name="Rex Review", status="review", source="link")
    penny = factories.referral(referee_name="Penny Pending", status="pending", source="link")
    for title, status, due, priority in [("Chase Penny's purchase", "todo", -3, "high"),
                                         ("Check last week's payouts", "doing", 2, "normal"),
                                         ("Update the welcome text", "done", None, "low")]:
        service.create_task({"title": title, "status": status, "priority": priority, "assignee_id": coordinator.id,
                             "referral_id": penny.id if "Penny" in title else None,
                             "due_date": service.today() + timedelta(days=due) if due is not None else None})
    db.session.commit()

    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto("/login")
    page.get_by_label("Email").fill(coordinator.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: not url.endswith("/login"))  # logged in before going on
    page.goto("/admin")
    assert page.locator('[data-figure="total"]').inner_text() == "10"
    assert page.locator('[data-status="qualified"]').inner_text() == "3"
    assert page.locator('[data-status="review"]').inner_text() == "2"
    assert page.locator('[data-figure="conversion"]').inner_text() == "30.0 %"
    assert page.locator('[data-balance="payable"]').inner_text() == "25.00 USD"
    page.wait_for_function("Chart.getChart('trend-chart') && Chart.getChart('funnel-chart')")
    screenshot(page, "dashboard")

    page.get_by_role("link", name="Referrals").click()
    page.get_by_label("Status").select_option("review")
    page.get_by_label("Source").select_option("link")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*status=review.*"))
    rows = page.locator("#pipeline tbody tr")
    assert rows.count() == 1 and "Rex Review" in rows.first.inner_text()
    rows.first.get_by_role("link", name="Rex Review").click()

    expect(page.get_by_role("heading", name=re.compile("Rex Review"))).to_be_visible()
    page.get_by_role("link", name="Create a task").click()
    page.get_by_label("Title").fill("Call Rex about the review")
    page.get_by_label("Priority").select_option("high")
    page.get_by_role("button", name="Save task").click()
    page.wait_for_url("**/admin/tasks")
    expect(page.get_by_text("Task “Call Rex about the review” added to To do.")).to_be_visible()

    card = page.locator(".task-card", has_text="Call Rex about the review")
    assert card.locator("xpath=ancestor::ol").get_attribute("data-status") == "todo"
    _drag(page, card, "doing")
    assert card.locator("xpath=ancestor::ol").get_attribute("data-status") == "doing"
    _drag(page, card, "done")

    page.reload()
    card = page.locator(".task-card", has_text="Call Rex about the review")
    assert card.locator("xpath=ancestor::ol").get_attribute("data-status") == "done"
    expect(card.get_by_role("link", name=re.compile(r"Referral #\d+: Rex Review"))).to_be_visible()
    assert page.locator(".task-overdue").count() == 1
    assert page.locator('ol[data-status="done"] .task-title').all_inner_texts() == [
        "Update the welcome text", "Call Rex about the review"]
    db.session.expire_all()
    task = db.session.scalar(db.select(Task).filter_by(title="Call Rex about the review"))
    assert (task.status, task.priority, task.created_by_id) == ("done", "high", coordinator.id)
    assert task.referral.referee_name == "Rex Review"
    screenshot(page, "board")
