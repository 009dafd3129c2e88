"""Staff pages: dashboard figures, the referral pipeline, referral detail, customers and the audit log."""
import json
import re
from html import unescape
from datetime import timedelta

import pytest

from rewards.audit.models import AuditEvent
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.referrals.service import submit_referral
from tests import factories
from rewards.ledger.payouts import batch_payable
from tests.staff_data import seed_dashboard, seed_reward


def figure(html, attribute, name):
    return re.search(rf'{attribute}="{re.escape(name)}"[^>]*>([^<]+)<', html).group(1).strip()


def test_dashboard_shows_the_period_figures(login_as, client):
    login_as("coordinator")
    seed_dashboard()
    html = client.get("/admin").get_data(as_text=True)
    assert figure(html, "data-figure", "total") == "8"
    assert [figure(html, "data-status", s) for s in ("pending", "review", "qualified", "rejected", "expired")] == [
        "4", "1", "3", "0", "0"]
    assert figure(html, "data-figure", "conversion") == "37.5 %"
    assert [figure(html, "data-balance", k) for k in ("held", "payable", "paid")] == [
        "15.00 USD", "25.00 USD", "40.00 USD"]
    assert [figure(html, "data-funnel", k) for k in ("Referred", "Bought", "Qualified", "Reward paid")] == [
        "8", "3", "3", "1"]
    top = re.search(r'id="top-referrers".*?</table>', html, re.S).group(0)
    assert top.index("Rita Top") < top.index("Sam Second")
    chart = re.search(r'id="trend-chart"[^>]*data-chart="([^"]+)"', html).group(1)
    assert "&#34;referred&#34;" in chart and 'src="/vendor/chart.js"' in html and "<script>" not in html

    year = client.get("/admin?days=365").get_data(as_text=True)
    assert figure(year, "data-figure", "total") == "9"
    today = utcnow().date()
    start = (today - timedelta(days=3)).isoformat()
    custom = client.get(f"/admin?days=&from={start}&to={today.isoformat()}").get_data(as_text=True)
    assert figure(custom, "data-figure", "total") == "3"
    # The Period box keeps the choice: "Custom dates", with the dates in their fields.
    assert '<option value="" selected>Custom dates</option>' in custom
    assert f'id="from" name="from" value="{start}"' in custom
    bad = client.get("/admin?from=yesterday").get_data(as_text=True)
    assert "is not a date" in bad and figure(bad, "data-figure", "total") == "8"


def test_dashboard_counts_only_the_period_even_for_referrals_entered_out_of_order(login_as, client):
    """A referral backdated between two of the period's (an import) has an id inside the period's id range."""
    login_as("coordinator")
    now = utcnow()
    rita = factories.customer(name="Rita Top")
    recent = factories.referral(rita, status="qualified", created_at=now - timedelta(days=2))
    imported = factories.referral(rita, status="qualified", created_at=now - timedelta(days=60))
    latest = factories.referral(rita, status="pending", created_at=now)
    for made in (recent, imported, imported, latest):
        factories.sale(made, email=made.referee_email)

    html = client.get("/admin").get_data(as_text=True)
    assert [figure(html, "data-funnel", k) for k in ("Referred", "Bought", "Qualified", "Reward paid")] == [
        "2", "2", "1", "0"]
    chart = json.loads(unescape(re.search(r'id="trend-chart"[^>]*data-chart="([^"]+)"', html).group(1)))
    assert len(chart["labels"]) == 30 and chart["labels"][-1] == now.date().isoformat()
    assert sum(chart["referred"]) == 2 and chart["referred"][-3] == 1 and chart["qualified"][-3] == 1
    year = client.get("/admin?days=365").get_data(as_text=True)
    assert [figure(year, "data-funnel", k) for k in ("Referred", "Bought", "Qualified")] == ["3", "3", "2"]
    chart = json.loads(unescape(re.search(r'id="trend-chart"[^>]*data-chart="([^"]+)"', year).group(1)))
    assert chart["labels"][-1] == now.strftime("%Y-%m") and sum(chart["referred"]) == 3
    assert sum(chart["qualified"]) == 2


def _pipeline_names(html):
    table = re.search(r'id="pipeline".*?</table>', html, re.S).group(0)
    return re.findall(r'/admin/referrals/\d+">([^<]+)</a>', table)


def test_pipeline_filters_searches_sorts_and_pages(login_as, client):
    login_as("finance")  # finance reads referrals
    now = utcnow()
    rita = factories.customer(name="Rita Referrer", email="rita@example.com")
    factories.referral(rita, referee_name="Anna Able", email="anna@example.org", status="review", source="link",
                       created_at=now - timedelta(days=1))
    factories.referral(rita, referee_name="Bob Baker", email="bob@example.org", status="review", source="portal",
                       created_at=now - timedelta(days=2))
    factories.referral(referee_name="Cleo Cole", email="cleo@example.org", status="pending", source="link",
                       created_at=now - timedelta(days=40))

    assert _pipeline_names(client.get("/admin/referrals").get_data(as_text=True)) == ["Anna Able", "Bob Baker",
                                                                                      "Cleo Cole"]
    assert _pipeline_names(client.get("/admin/referrals?status=review&source=link").get_data(as_text=True)) == [
        "Anna Able"]
    assert _pipeline_names(client.get("/admin/referrals?referrer=rita@example.com&sort=oldest")
                           .get_data(as_text=True)) == ["Bob Baker", "Anna Able"]
    assert _pipeline_names(client.get(f"/admin/referrals?referrer={rita.id}&sort=name_desc")
                           .get_data(as_text=True)) == ["Bob Baker", "Anna Able"]
    assert _pipeline_names(client.get("/admin/referrals?q=CLE").get_data(as_text=True)) == ["Cleo Cole"]
    assert _pipeline_names(client.get("/admin/referrals?q=bob@").get_data(as_text=True)) == ["Bob Baker"]
    assert _pipeline_names(client.get("/admin/referrals?q=%25").get_data(as_text=True)) == []
    factories.referral(referee_name="Cleo Abbot", email="abbot@example.org", created_at=now - timedelta(days=20))
    assert _pipeline_names(client.get("/admin/referrals?q=cle&sort=name").get_data(as_text=True)) == [
        "Cleo Abbot", "Cleo Cole"]
    assert _pipeline_names(client.get("/admin/referrals?q=cle&sort=name_desc").get_data(as_text=True)) == [
        "Cleo Cole", "Cleo Abbot"]
    since = (now - timedelta(days=10)).date().isoformat()
    assert _pipeline_names(client.get(f"/admin/referrals?date_from={since}&sort=name")
                           .get_data(as_text=True)) == ["Anna Able", "Bob Baker"]
    odd = client.get("/admin/referrals?status=lost&sort=sideways")
    assert odd.status_code == 200 and "Unknown status “lost”: ignored." in odd.get_data(as_text=True)


def test_search_finds_a_surname_or_part_of_an_email_anywhere(login_as, client):
    login_as("coordinator")
    ada = factories.customer(name="Ada Fieldtest", email="ada.lovelace@example.com")
    factories.customer(name="Bo Other", email="bo@example.com")
    factories.referral(ada, referee_name="Mia Fieldtest-Nguyen", email="mia.n@shop.example.org")
    factories.referral(ada, referee_name="Noah Park", email="noah@example.org")
    assert _pipeline_names(client.get("/admin/referrals?q=fieldtest").get_data(as_text=True)) == [
        "Mia Fieldtest-Nguyen"]
    assert _pipeline_names(client.get("/admin/referrals?q=NGUYEN").get_data(as_text=True)) == [
        "Mia Fieldtest-Nguyen"]
    assert _pipeline_names(client.get("/admin/referrals?q=shop.exa").get_data(as_text=True)) == [
        "Mia Fieldtest-Nguyen"]
    assert _pipeline_names(client.get("/admin/referrals?q=pa").get_data(as_text=True)) == ["Noah Park"]
    assert _pipeline_names(client.get("/admin/referrals?referrer=lovelace").get_data(as_text=True)) == [
        "Noah Park", "Mia Fieldtest-Nguyen"]
    customers = client.get("/admin/customers?q=fieldtest").get_data(as_text=True)
    assert "Ada Fieldtest" in customers and "Bo Other" not in customers
    assert "Ada Fieldtest" in client.get("/admin/customers?q=lovelace@").get_data(as_text=True)
    assert "Ada Fieldtest" not in client.get("/admin/customers?q=100%25").get_data(as_text=True)


def test_pipeline_pages_through_results(login_as, client, monkeypatch):
    from rewards.admin import referrals

    monkeypatch.setattr(referrals, "PAGE_SIZE", 2)
    login_as("coordinator")
    for name in ("Ann", "Ben", "Cid", "Dot", "Eve"):
        factories.referral(referee_name=name)
    first = client.get("/admin/referrals?sort=name").get_data(as_text=True)
    assert _pipeline_names(first) == ["Ann", "Ben"] and "Showing 1–2 of 5" in first and "Page 1 of 3" in first
    last = client.get("/admin/referrals?sort=name&page=3").get_data(as_text=True)
    assert _pipeline_names(last) == ["Eve"]
    beyond = client.get("/admin/referrals?sort=name&page=99").get_data(as_text=True)
    assert _pipeline_names(beyond) == ["Eve"]


def test_referral_detail_shows_sale_reward_history_and_takes_notes(login_as, pages, client):
    rita = factories.customer(name="Rita Referrer")
    referral = submit_referral(rita, "nia@example.org", "Nia Note", "admin")
    db.session.commit()
    seed_reward(referral, 1234)
    coordinator = login_as("coordinator")
    html = client.get(f"/admin/referrals/{referral.id}").get_data(as_text=True)
    assert "Nia Note" in html and "Rita Referrer" in html and "sale-" in html and "12.34 USD" in html
    history = re.search(r'id="history".*?</ol>', html, re.S).group(0)
    assert "Referred, through our team." in history and "by " + "the system" in history
    assert 'Reward</a> of 12.34 USD granted' in history and 'href="#reward"' in history
    assert 'id="decision"' in html and 'id="new-task"' in html

    added = pages.submit(f"/admin/referrals/{referral.id}/notes", {"body": "Called, will buy next week."},
                         form_path=f"/admin/referrals/{referral.id}", follow_redirects=True).get_data(as_text=True)
    assert "Note added." in added and "Called, will buy next week." in added
    history = re.search(r'id="history".*?</ol>', added, re.S).group(0)
    assert 'Note</a> added.' in history and "by " + coordinator.email in history
    empty = pages.submit(f"/admin/referrals/{referral.id}/notes", {"body": "  "},
                         form_path=f"/admin/referrals/{referral.id}", follow_redirects=True)
    assert "Write something in the note." in empty.get_data(as_text=True)
    assert client.get("/admin/referrals/999999").status_code == 404


def test_finance_reads_a_referral_but_cannot_add_notes(app, login_as, client):
    referral = factories.referral()
    login_as("finance")
    html = client.get(f"/admin/referrals/{referral.id}").get_data(as_text=True)
    assert "Frank Friend" in html and 'id="new-task"' not in html and "note-body" not in html
    app.config["WTF_CSRF_ENABLED"] = False
    assert client.post(f"/admin/referrals/{referral.id}/notes", data={"body": "x"}).status_code == 403


def test_coordinator_enrols_searches_and_resends_a_link(login_as, pages, client):
    login_as("coordinator")
    enrolled = pages.submit("/admin/customers/new", {"name": "Nora New", "email": "Nora@Example.com"},
                            follow_redirects=True).get_data(as_text=True)
    assert "Nora New is enrolled." in enrolled and "nora@example.com" in enrolled
    customer_id = int(re.search(r'/admin/customers/(\d+)/resend-link', enrolled).group(1))
    again = pages.submit("/admin/customers/new", {"name": "Nora Again", "email": "nora@example.com"})
    assert again.status_code == 422 and "already enrolled" in again.get_data(as_text=True)

    factories.customer(name="Otto Other")
    found = client.get("/admin/customers?q=nor").get_data(as_text=True)
    assert "Nora New" in found and "Otto Other" not in found

    sent = pages.submit(f"/admin/customers/{customer_id}/resend-link", {}, form_path=f"/admin/customers/{customer_id}",
                        follow_redirects=True).get_data(as_text=True)
    assert "Link recorded as sent to nora@example.com" in sent and "does not send email yet" in sent
    event = db.session.scalar(db.select(AuditEvent).filter_by(action="customer.link_resent"))
    assert event.entity_id == customer_id and "/r/" in event.detail["referral_url"]


def test_customer_detail_lists_referrals_and_rewards(login_as, client):
    login_as("finance")
    rita = factories.customer(name="Rita Referrer")
    referral = factories.referral(rita, referee_name="Paid Pat", status="qualified")
    seed_reward(referral, 5000, "paid", payable_in_days=-3)
    html = client.get(f"/admin/customers/{rita.id}").get_data(as_text=True)
    assert "Paid Pat" in html and "50.00 USD" in html and "Resend link" not in html


def test_audit_log_speaks_in_record_names_and_currency_units(login_as, client):
    reward = seed_reward(factories.referral(), 2500)
    batch_payable(reward.referrer_id, "usd", at=utcnow() + timedelta(days=30))
    db.session.commit()
    login_as("coordinator")
    html = client.get("/admin/audit").get_data(as_text=True)
    assert '<option value="referrals">Referral</option>' in html and '>referral_notes<' not in html
    assert "amount: 25.00 USD" in html and "amount: 2500" not in html
    assert f"Reward #{reward.id}" in html


def test_audit_log_filters_by_actor_action_entity_and_date(login_as, pages, client):
    factories.customer()
    coordinator = login_as("coordinator")
    pages.submit("/admin/tasks/new", {"title": "One", "status": "todo", "priority": "normal", "assignee_id": "None"})

    def actions(query=""):
        table = re.search(r'id="audit-events".*?</table>', client.get(f"/admin/audit{query}").get_data(as_text=True),
                          re.S).group(0)
        return re.findall(r'<td data-label="Action">([a-z_]+\.[a-z_]+)</td>', table)

    assert sorted(actions()) == ["customer.enrolled", "task.created"]
    assert actions(f"?actor={coordinator.email}") == ["task.created"]
    assert actions("?action=customer.") == ["customer.enrolled"]
    assert actions("?entity=tasks") == ["task.created"]
    assert actions("?action=task") == ["task.created"] and actions("?action=Created") == ["task.created"]
    assert actions("?action=enrolled") == ["customer.enrolled"] and actions("?action=task.moved") == []
    assert actions("?actor=nobody@example.com") == []
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    assert actions(f"?date_from={tomorrow}") == []


@pytest.mark.parametrize("path", ["/admin", "/admin/referrals", "/admin/customers", "/admin/audit", "/admin/tasks"])
def test_customers_are_refused_every_staff_page(login_as, client, path):
    login_as("customer")
    assert client.get(path).status_code == 403


def test_navigation_offers_each_role_its_pages(login_as, client):
    login_as("finance")
    nav = re.search(r'<ul class="navbar-nav.*?</ul>', client.get("/admin/referrals").get_data(as_text=True), re.S)
    labels = re.findall(r'nav-link[^"]*" href="[^"]+"[^>]*>([^<]+)<', nav.group(0))
    assert labels == ["Referrals", "Customers", "Finance", "Password"]
    assert 'class="nav-link active" href="/admin/referrals" aria-current="page"' in nav.group(0)


def test_customers_list_shows_referrals_qualified_and_balance_per_currency(login_as, client):
    login_as("finance")
    rita = factories.customer(name="Rita Referrer")
    seed_reward(factories.referral(rita, email="a@example.org"), 2500)
    seed_reward(factories.referral(rita, email="b@example.org"), 1000, status="paid", payable_in_days=-1)
    seed_reward(factories.referral(rita, email="c@example.org"), 500, currency="eur")
    factories.referral(rita, email="d@example.org")
    html = client.get("/admin/customers").get_data(as_text=True)
    row = re.search(rf'data-customer="{rita.id}".*?</tr>', html, re.S).group(0)
    assert re.search(r'data-figure="referrals">4<', row) and re.search(r'data-figure="qualified">3<', row)
    balance = re.sub(r"<[^>]+>", " ", re.search(r'data-figure="balance">(.*?)</td>', row, re.S).group(1)).split()
    assert " ".join(balance) == "5.00 EUR 25.00 USD"
