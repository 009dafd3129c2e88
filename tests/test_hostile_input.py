"""Hostile input at the edge: ids, pages, amounts, dates, text and JSON out of bounds answer 4xx, never a 500."""
import io
from datetime import timedelta

import pytest

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.sales.models import Sale
from tests import factories
from tests.conftest import csrf_token
from tests.test_sales_import import upload

ERROR_KEYS = {"code", "status", "message", "errors"}
HUGE = 1099511627776  # 2**40
NUL = "Fra\x00nk"


def assert_error(response, code):
    assert response.status_code == code, response.get_data(as_text=True)[:500]
    assert set(response.json) == ERROR_KEYS and response.json["code"] == code


def query_errors(response):
    return response.json["errors"]["query"]


def body_errors(response):
    return response.json["errors"]["json"]


@pytest.mark.parametrize("path", [
    f"/api/v1/customers/{HUGE}",
    "/api/v1/customers/2147483648",
    f"/api/v1/customers/{HUGE}/balance",
    f"/api/v1/referrals/{HUGE}",
    f"/api/v1/rewards/{HUGE}",
    f"/api/v1/programs/{HUGE}",
    f"/api/v1/tasks/{HUGE}",
    "/api/v1/customers/" + "9" * 5000,
    "/api/v1/customers/0",
])
def test_an_id_out_of_range_in_a_path_is_404(api_as, path):
    assert_error(api_as("admin").get(path), 404)


@pytest.mark.parametrize("method, path", [("post", f"/api/v1/referrals/{HUGE}/approve"),
                                          ("patch", f"/api/v1/tasks/{HUGE}"), ("delete", f"/api/v1/tasks/{HUGE}")])
def test_an_id_out_of_range_in_a_path_of_an_action_is_404(api_as, method, path):
    assert_error(getattr(api_as("admin"), method)(path, json={} if method == "patch" else None), 404)


@pytest.mark.parametrize("path, name", [
    (f"/api/v1/referrals?referrer_id={HUGE}", "referrer_id"),
    (f"/api/v1/rewards?referrer_id={HUGE}", "referrer_id"),
    (f"/api/v1/tasks?assignee_id={HUGE}", "assignee_id"),
    ("/api/v1/tasks?assignee_id=" + "1" * 5000, "assignee_id"),
    ("/api/v1/referrals?page=10000000000000000000", "page"),
    ("/api/v1/tasks?page=100001", "page"),
])
def test_an_out_of_range_filter_or_page_is_422(api_as, path, name):
    response = api_as("admin").get(path)
    assert_error(response, 422)
    assert name in query_errors(response)


def test_the_largest_page_is_an_empty_page(api_as):
    response = api_as("admin").get("/api/v1/referrals?page=100000&page_size=500")
    assert response.status_code == 200 and response.json == []


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/tasks", {"title": "T", "assignee_id": 2**31}, "assignee_id"),
    ("/api/v1/tasks", {"title": "T", "referral_id": HUGE}, "referral_id"),
    ("/api/v1/tasks", {"title": "T", "position": HUGE}, "position"),
    ("/api/v1/referrals", {"referrer_id": HUGE, "referee_email": "f@example.com", "referee_name": "F"},
     "referrer_id"),
    ("/api/v1/sales", {"external_id": "s1", "email": "b@example.com", "amount": 2147483648, "currency": "usd",
                       "occurred_at": "2026-03-01T10:00:00Z"}, "amount"),
    ("/api/v1/sales", {"external_id": "s1", "email": "b@example.com", "amount": 100, "currency": "usd",
                       "occurred_at": "9999-12-31T23:59:59-14:00"}, "occurred_at"),
    ("/api/v1/sales", {"external_id": "s1", "email": "b@example.com", "amount": 100, "currency": "usd",
                       "occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at"),
    ("/api/v1/sales", {"external_id": NUL, "email": "b@example.com", "amount": 100, "currency": "usd",
                       "occurred_at": "2026-03-01T10:00:00Z"}, "external_id"),
    ("/api/v1/sales/order-1/refunds", {"amount": 2147483648, "external_id": "r1"}, "amount"),
    ("/api/v1/customers", {"email": "a@example.com", "name": NUL}, "name"),
    ("/api/v1/customers", {"email": "a@example.com", "name": "A\ud800"}, "name"),
    ("/api/v1/referrals", {"referrer_id": 1, "referee_email": "f@example.com", "referee_name": "F", "note": NUL},
     "note"),
    ("/api/v1/programs", {"name": "P", "currency": "usd", "reward_type": "flat", "amount": 2147483648,
                          "min_sale_amount": 0, "attribution_days": 30, "hold_days": 30}, "amount"),
    ("/api/v1/programs/what-if", {"currency": "usd", "reward_type": "flat", "amount": 100, "min_sale_amount": 0,
                                  "attribution_days": 30, "from": "2026-01-01", "to": "9999-12-31"}, "to"),
])
def test_an_out_of_range_body_field_is_422(api_as, path, body, field):
    response = api_as("admin").post(path, json=body)
    assert_error(response, 422)
    assert field in body_errors(response)


def test_a_due_date_out_of_range_is_422(api_as):
    response = api_as("admin").post("/api/v1/tasks", json={"title": "T", "due_date": "9999-12-31"})
    assert_error(response, 422)
    assert "due_date" in body_errors(response)


@pytest.mark.parametrize("raw", ["[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000,
                                 '{"email": "a@example.com", "name": ' + "7" * 5000 + "}"])
def test_deep_json_or_a_huge_number_is_400(api_as, raw):
    response = api_as("admin").post("/api/v1/customers", data=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400)


@pytest.mark.parametrize("name", ["[" * 100, "7" * 150, '\\"[' * 40])
def test_brackets_and_digits_inside_strings_do_not_count(api_as, name):
    response = api_as("admin").post("/api/v1/customers", json={"email": "a@example.com", "name": name})
    assert response.status_code == 201, response.json


def test_a_nul_in_a_query_argument_is_422(api_as):
    response = api_as("admin").get("/api/v1/referrals?status=pending%00")
    assert_error(response, 422)


@pytest.mark.parametrize("path", ["/admin/customers?q=ri%00ta", "/admin/referrals?q=%00", "/admin/audit?actor=a%00"])
def test_a_nul_in_a_page_query_argument_is_422(client, login_as, path):
    login_as("coordinator")
    response = client.get(path)
    assert response.status_code == 422
    assert "control characters" in response.get_data(as_text=True)


def test_an_overlong_query_string_is_a_json_414(api_as):
    response = api_as("admin").get("/api/v1/referrals?q=" + "a" * 7000)
    assert_error(response, 414)


def test_405_names_the_allowed_methods(api_as, client):
    response = api_as("admin").delete("/api/v1/customers")
    assert_error(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"POST"}
    page = client.delete("/login")
    assert page.status_code == 405 and "GET" in page.headers["Allow"]


def test_the_openapi_document_bounds_ids_and_pages(client):
    spec = client.get("/api/v1/openapi.json").json
    path_id = next(p for p in spec["paths"]["/api/v1/customers/{customer_id}"]["parameters"]
                   if p["name"] == "customer_id")
    assert path_id["schema"]["maximum"] == 2**31 - 1
    page = next(p for p in spec["paths"]["/api/v1/referrals"]["get"]["parameters"] if p["name"] == "page")
    assert page["schema"]["maximum"] == 100_000
    # The header is JSON text: declared as a JSON object in `content`, not as an object-valued simple header.
    header = spec["paths"]["/api/v1/referrals"]["get"]["responses"]["200"]["headers"]["X-Pagination"]
    assert header["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PaginationMetadata"}
    assert "schema" not in header


# Pages: the same parsers for their query strings and forms.
@pytest.mark.parametrize("role, path", [
    ("customer", "/portal?page=10000000000000000000"),
    ("customer", "/portal?rewards_page=10000000000000000000"),
    ("coordinator", "/admin/review?page=10000000000000000000"),
    ("coordinator", "/admin/referrals?page=10000000000000000000"),
    ("coordinator", f"/admin/audit?entity_id={HUGE}"),
    ("coordinator", f"/admin/tasks?assignee={HUGE}"),
    ("coordinator", f"/admin/tasks/new?referral_id={HUGE}"),
    ("finance", "/finance/reports/tax?page=10000000000000000000"),
])
def test_pages_refuse_out_of_range_numbers_with_422(client, login_as, role, path):
    login_as(role)
    response = client.get(path)
    assert response.status_code == 422
    assert "Give a whole number between" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", [f"/admin/referrals/{HUGE}", f"/admin/customers/{HUGE}",
                                  f"/admin/tasks/{HUGE}/edit", "/admin/referrals/" + "7" * 5000])
def test_pages_answer_404_for_an_id_out_of_range_in_the_path(client, login_as, path):
    login_as("admin")
    assert client.get(path).status_code == 404


def test_the_board_refuses_an_after_id_out_of_range(client, login_as):
    login_as("coordinator")
    from rewards.tasks.service import create_task
    task = create_task({"title": "Call Frank"})
    db.session.commit()
    token = csrf_token(client.get("/admin/tasks").get_data(as_text=True))
    response = client.post(f"/admin/tasks/{task.id}/move", json={"status": "doing", "after_id": HUGE},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 422 and set(response.json) == ERROR_KEYS
    assert "after_id" in response.json["errors"]


@pytest.mark.parametrize("path", [
    "/admin/referrals?date_to=9999-12-31", "/admin/referrals?date_from=0001-01-01",
    "/admin/audit?date_to=9999-12-31", "/admin?from=0001-01-01&to=9999-12-30",
    "/admin/audit?actor=%C2%B2", "/admin/audit?actor=" + "9" * 5000,
    "/admin/referrals?referrer=%C2%B2", "/admin/referrals?referrer=" + "9" * 5000,
    f"/admin/referrals?referrer={HUGE}", f"/admin/audit?actor={HUGE}",
])
def test_staff_filters_out_of_range_are_ignored_with_a_message(client, login_as, path):
    login_as("admin")
    response = client.get(path)
    assert response.status_code == 200


def test_a_date_out_of_range_is_named_on_the_page(client, login_as):
    login_as("coordinator")
    html = client.get("/admin/referrals?date_to=9999-12-31").get_data(as_text=True)
    assert "Give a date between 1970-01-01 and 2199-12-31. Ignored." in html


def test_a_long_dashboard_period_is_capped(client, login_as):
    login_as("coordinator")
    html = client.get("/admin?from=1970-01-01&to=2199-12-31").get_data(as_text=True)
    assert "A period is at most 1830 days" in html


def test_a_nul_in_a_form_field_is_422(pages, login_as):
    login_as("customer")
    response = pages.submit("/portal/referrals/new", {"referee_name": NUL, "referee_email": "f@example.com"})
    assert response.status_code == 422
    assert "control characters" in response.get_data(as_text=True)
    from rewards.referrals.models import Referral
    assert db.session.scalar(db.select(Referral)) is None


def test_task_form_refuses_an_id_out_of_range(pages, login_as):
    login_as("coordinator")
    response = pages.submit("/admin/tasks/new", {"title": "Call", "status": "todo", "priority": "normal",
                                                 "assignee_id": "None", "referral_id": str(HUGE)})
    assert response.status_code == 422
    assert "Number must be between 1 and 2147483647" in response.get_data(as_text=True)


# CSV: rows out of bounds are reported by line while the good rows land.
def test_poisoned_csv_rows_are_reported_by_line_and_the_good_rows_land(api_as):
    rows = [
        "good-1,a@example.com,1000,usd,2026-03-01T10:00:00Z,,",
        "huge,b@example.com,3000000000,usd,2026-03-01T10:00:00Z,,",
        "float,c@example.com,3e9,usd,2026-03-01T10:00:00Z,,",
        "nul\x00id,d@example.com,1000,usd,2026-03-01T10:00:00Z,,",
        "nul-code,e@example.com,1000,usd,2026-03-01T10:00:00Z,co\x00de,",
        "far,f@example.com,1000,usd,9999-12-31T23:59:59-14:00,,",
        "digits,g@example.com," + "9" * 5000 + ",usd,2026-03-01T10:00:00Z,,",
        "good-2,h@example.com,2000,usd,2026-03-02T10:00:00Z,,",
    ]
    data = ("external_id,email,amount,currency,occurred_at,referral_code,phone\n" + "\n".join(rows) + "\n").encode()
    response = upload(api_as("coordinator"), data)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["created"] == 2
    assert [error["line"] for error in response.json["errors"]] == [3, 4, 5, 6, 7, 8]
    messages = {error["line"]: error["message"] for error in response.json["errors"]}
    assert messages[3].startswith("amount:") and messages[5].startswith("external_id:")
    assert "control characters" in messages[6] and messages[7].startswith("occurred_at:")
    assert sorted(db.session.scalars(db.select(Sale.external_id))) == ["good-1", "good-2"]


def test_an_unreadable_csv_line_is_reported_and_the_rest_lands(api_as):
    data = ("external_id,email,amount,currency,occurred_at\n"
            "good-1,a@example.com,1000,usd,2026-03-01T10:00:00Z\n"
            "big," + "x" * 200_000 + ",1000,usd,2026-03-01T10:00:00Z\n"
            "good-2,b@example.com,1000,usd,2026-03-01T10:00:00Z\n").encode()
    response = upload(api_as("coordinator"), data)
    assert response.status_code == 200
    assert response.json["created"] == 2 and response.json["errors"][0]["line"] == 3


def test_cli_import_reports_poisoned_rows(runner, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_bytes(b"external_id,email,amount,currency,occurred_at\n"
                     b"ok,a@example.com,1000,usd,2026-03-01T10:00:00Z\n"
                     b"huge,b@example.com,2147483648,usd,2026-03-01T10:00:00Z\n")
    result = runner.invoke(args=["sales", "import", str(path), "--no-revalidate"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(db.select(db.func.count()).select_from(Sale)) == 1


def test_a_recent_sale_in_range_still_lands(api_as):
    factories.program()
    response = api_as("coordinator").post("/api/v1/sales", json={
        "external_id": "ok", "email": "b@example.com", "amount": 2147483647, "currency": "usd",
        "occurred_at": (utcnow() - timedelta(days=1)).isoformat()})
    assert response.status_code == 201


def test_an_upload_that_is_not_utf8_text_is_reported_not_500(api_as):
    response = upload(api_as("coordinator"), b"external_id,email,amount,currency,occurred_at\n\xff\xfe\x00\x00,,,,\n")
    assert response.status_code == 200
    assert response.json["created"] == 0 and response.json["errors"]


def test_csv_import_without_a_file_is_422(api_as):
    response = api_as("coordinator").post("/api/v1/sales/import", data={"other": (io.BytesIO(b"x"), "x.csv")},
                                          content_type="multipart/form-data")
    assert_error(response, 422)


# Found by the fuzzer: a card changed while another request deletes it.
def test_a_task_changed_while_another_request_deletes_it_is_404_not_500(postgres, api_as):
    import threading
    import time

    from rewards.tasks import service
    from rewards.tasks.models import Task

    api = api_as("coordinator")
    task_id = api.post("/api/v1/tasks", json={"title": "Call Frank"}).json["id"]
    answers = []

    def patch():
        answers.append(api.patch(f"/api/v1/tasks/{task_id}", json={"status": "doing", "title": "Call Frank now"}))

    with postgres.app_context():  # another request, deleting the card, not yet committed
        service.delete_task(service.get_task(task_id, for_change=True))
        db.session.flush()
        thread = threading.Thread(target=patch)
        thread.start()
        time.sleep(1.0)  # the PATCH is now waiting for the delete to end
        db.session.commit()
    thread.join(20)
    assert answers and answers[0].status_code == 404, answers and answers[0].get_data(as_text=True)[:300]
    assert set(answers[0].json) == ERROR_KEYS
    assert db.session.get(Task, task_id) is None


def test_a_program_amount_beyond_the_columns_is_a_form_message(pages, login_as):
    login_as("coordinator")
    response = pages.submit("/admin/programs/new", {
        "name": "Big", "currency": "usd", "reward_type": "flat", "amount": "30000000", "percent": "",
        "min_sale_amount": "0", "attribution_days": "30", "hold_days": "30"})
    assert response.status_code == 422
    assert "That amount is too large" in response.get_data(as_text=True)


# Finance: the reports' years and periods, and a batch's minimum, within the same bounds as everything else.
@pytest.mark.parametrize("path, field", [
    ("/api/v1/reports/referrers.csv?year=9999", "year"),
    ("/api/v1/reports/referrers.csv?year=" + "9" * 5000, "year"),
    ("/api/v1/reports/payouts.csv?from=2026-01-01&to=9999-12-31", "to"),
    ("/api/v1/reports/journal.csv?from=0001-01-01&to=2026-01-31", "from"),
])
def test_a_report_period_out_of_range_is_422(api_as, path, field):
    response = api_as("finance").get(path)
    assert_error(response, 422)
    assert field in query_errors(response)


def test_a_finance_page_refuses_a_year_out_of_range(client, login_as):
    login_as("finance")
    assert client.get("/finance/reports/tax?year=9999").status_code == 422
    assert client.get("/finance/reports/payouts.csv?from=2026-01-01&to=9999-12-31").status_code == 422


def test_a_batch_minimum_beyond_the_amount_columns_is_422(api_as):
    response = api_as("finance").post("/api/v1/payout-batches", json={"currency": "usd", "minimum_amount": 2**31})
    assert_error(response, 422)
    assert "minimum_amount" in body_errors(response)
