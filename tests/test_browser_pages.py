"""Every page of each role in chromium at a phone's 390 px and a desk's 1280 px: nothing wider than the screen,
no serious or critical axe-core violation, a screenshot of each under test-artifacts/pages/; and the flows the
coordinator's day and the customer's phone depend on."""
import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from playwright.sync_api import expect

from rewards import demo
from rewards.accounts import tokens
from rewards.accounts.models import User
from rewards.accounts.service import hash_password
from rewards.clock import utcnow
from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.payouts.models import PayoutBatch
from rewards.programs.models import Program
from rewards.referrals.models import Referral
from rewards.sales.models import Sale
from rewards.tasks.models import Task
from tests import factories

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 1}
DESK = {"viewport": {"width": 1280, "height": 900}}

# Elements wider than the viewport, outside a container that scrolls or clips them on purpose (none should be).
WIDER_THAN_VIEWPORT = """() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement)
      if (getComputedStyle(p).overflowX === 'hidden' || getComputedStyle(p).overflowX === 'clip') return true;
    return false; };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    if (box.width === 0 || style.position === 'fixed' || el.closest('.visually-hidden')) continue;
    if ((box.right > width + 1 || box.left < -1) && !clipped(el)) wide.push(name(el) + ' to ' + Math.round(box.right));
    // A region scrolling sideways counts too: its content is wider than the screen shows.
    if ((style.overflowX === 'auto' || style.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1)
      wide.push(name(el) + ' scrolls sideways (' + el.scrollWidth + ' px)');
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 8)};
}"""
# Badges that show no background: white text on the page's white, unreadable (e.g. a status without a colour).
INVISIBLE_BADGES = """() => [...document.querySelectorAll('.badge')]
  .filter(b => b.textContent.trim() && getComputedStyle(b).backgroundColor === 'rgba(0, 0, 0, 0)')
  .map(b => b.className + ': ' + b.textContent.trim()).slice(0, 5)"""
# On a phone a table's row is a card of "Label: value" lines: a label with no value after it is clutter.
EMPTY_CARD_LINES = """() => [...document.querySelectorAll('table.table-cards td')]
  .filter(td => td.offsetParent !== null && !td.textContent.trim() && !td.querySelector('img, svg, input, button'))
  .map(td => (td.closest('table').id || 'table') + ': ' + (td.dataset.label || '?')).slice(0, 5)"""
AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
}"""


def check_page(page, path, name, screenshot, problems, expect=200):
    """Open `path`; record every width, accessibility or status problem under `name`; save a screenshot."""
    response = page.goto(path, wait_until="load")
    if response.status != expect:
        problems.append(f"{name}: {path} answered {response.status}, expected {expect}")
    layout = page.evaluate(WIDER_THAN_VIEWPORT)
    if layout["scroll"] > layout["width"] or layout["wide"]:
        problems.append(f"{name}: wider than {layout['width']} px ({layout['scroll']} px): {layout['wide']}")
    for badge in page.evaluate(INVISIBLE_BADGES):
        problems.append(f"{name}: badge without a background: {badge}")
    if layout["width"] < 576:
        for line in page.evaluate(EMPTY_CARD_LINES):
            problems.append(f"{name}: a card shows a label with nothing after it: {line}")
    page.add_script_tag(url="/vendor/axe.js")
    for violation in page.evaluate(AXE):
        problems.append(f"{name}: {violation}")
    screenshot(page, f"pages/{name}")


def log_in(page, email, password=demo.DEMO_PASSWORD):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: not url.endswith("/login"))


ROLE_PAGES = {
    "anonymous": lambda ids: [("login", "/login", 200), ("signup", "/signup", 200),
                              ("referral-link", f"/r/{ids['code']}", 200), ("referral-link-unknown", "/r/NoSuchCode12", 404),
                              ("not-found", "/no/such/page", 404), ("reset-request", "/password/reset", 200),
                              ("signup-confirm", f"/signup/confirm/{ids['signup_token']}", 200),
                              ("claim", f"/account/claim/{ids['claim_token']}", 200),
                              ("reset", f"/password/reset/{ids['reset_token']}", 200),
                              ("link-gone", "/password/reset/no-such-token", 404),
                              ("unsubscribe-invalid", "/unsubscribe/not-a-token", 404)],
    "customer": lambda ids: [("portal", "/portal", 200), ("portal-refer", "/portal/referrals/new", 200),
                             ("portal-referral", f"/portal/referrals/{ids['own_referral']}", 200),
                             ("password", "/account/password", 200), ("forbidden", "/admin", 403),
                             ("payouts", "/portal/payouts", 200), ("statement", "/portal/statement", 200),
                             ("tax-details", "/portal/tax-details", 200), ("preferences", "/portal/preferences", 200)],
    "coordinator": lambda ids: [
        ("dashboard", "/admin", 200), ("dashboard-custom", f"/admin?days=&from={ids['from']}&to={ids['to']}", 200),
        ("pipeline", "/admin/referrals", 200), ("pipeline-search", "/admin/referrals?q=garcia", 200),
        ("referral", f"/admin/referrals/{ids['referral']}", 200),
        ("referral-review", f"/admin/referrals/{ids['review']}", 200),
        ("referral-new", "/admin/referrals/new", 200), ("review", "/admin/review", 200),
        ("customers", "/admin/customers", 200), ("customer", f"/admin/customers/{ids['customer']}", 200),
        ("customer-new", "/admin/customers/new", 200), ("programs", "/admin/programs", 200),
        ("program", f"/admin/programs/{ids['program']}", 200), ("program-new", "/admin/programs/new", 200),
        ("what-if", f"/admin/programs/what-if?currency=usd&reward_type=flat&amount=30&percent=&min_sale_amount=50"
                    f"&attribution_days=90&from_date={ids['year_ago']}&to_date={ids['to']}", 200),
        ("tasks", "/admin/tasks", 200), ("task-new", "/admin/tasks/new", 200),
        ("task-edit", f"/admin/tasks/{ids['task']}/edit", 200), ("task-settings", "/admin/tasks/settings", 200),
        ("audit", "/admin/audit", 200), ("audit-filtered", "/admin/audit?action=reward&entity=rewards", 200)],
    "finance": lambda ids: [("finance", "/finance", 200), ("finance-referrals", "/admin/referrals", 200),
                            ("finance-customers", "/admin/customers", 200), ("finance-forbidden", "/admin/tasks", 403),
                            ("batch-paid", f"/finance/payouts/{ids['paid_batch']}", 200),
                            ("batch-draft", f"/finance/payouts/{ids['draft_batch']}", 200),
                            ("batch-failed-item", f"/finance/payouts/{ids['failed_batch']}", 200),
                            ("referrer-payouts", f"/finance/referrers/{ids['payee']}/payouts", 200),
                            ("referrer-statement", f"/finance/referrers/{ids['payee']}/statement", 200),
                            ("reconciliation", "/finance/reconciliation", 200),
                            ("tax-report", "/finance/reports/tax", 200)],
}
LOGINS = {"customer": "customer@example.com", "coordinator": "coordinator@example.com",
          "finance": "finance@example.com"}


def _demo_ids() -> dict:
    casey = db.session.scalar(db.select(Customer).filter_by(email="customer@example.com"))
    today = utcnow().date()
    # Live emailed links, as their recipients would open them.
    enrolled = factories.customer(name="Nina Newcomer", email="nina@example.com")
    links = {"signup_token": tokens.issue("signup", "sam@example.com", name="Sam Signup",
                                          password_hash=hash_password("a long sign-up passphrase")),
             "claim_token": tokens.issue("claim", enrolled.email),
             "reset_token": tokens.issue("reset", "finance@example.com",
                                         user=db.session.scalar(db.select(User).filter_by(email="finance@example.com")))}
    db.session.commit()
    paid_batch = db.session.scalar(db.select(PayoutBatch).filter_by(status="paid").order_by(PayoutBatch.id))
    return {
        **links,
        "paid_batch": paid_batch.id, "payee": paid_batch.items[0].customer_id,
        "draft_batch": db.session.scalar(db.select(PayoutBatch.id).filter_by(status="draft")),
        "failed_batch": db.session.scalar(db.select(PayoutBatch.id).filter_by(status="partially_failed")),
        "code": casey.referral_code, "customer": casey.id,
        "own_referral": db.session.scalar(db.select(Referral.id).filter_by(referrer_id=casey.id).limit(1)),
        "referral": db.session.scalar(db.select(Referral.id).filter_by(status="qualified").limit(1)),
        "review": db.session.scalar(db.select(Referral.id).filter_by(status="review").limit(1)),
        "program": db.session.scalar(db.select(Program.id).limit(1)),
        "task": db.session.scalar(db.select(Task.id).limit(1)),
        "from": (today - timedelta(days=20)).isoformat(), "to": today.isoformat(),
        "year_ago": (today - timedelta(days=365)).isoformat(),
    }


def test_every_page_of_every_role_fits_a_phone_and_a_desk_and_passes_axe(new_page, screenshot):
    for _ in demo.seed():
        pass
    ids = _demo_ids()
    problems = []
    for role, pages in ROLE_PAGES.items():
        for size, options in (("390", PHONE), ("1280", DESK)):
            page = new_page(**options)
            if role in LOGINS:
                log_in(page, LOGINS[role])
            for name, path, status in pages(ids):
                check_page(page, path, f"{size}-{role}-{name}", screenshot, problems, status)
            page.context.close()
    assert not problems, "\n".join(problems)


def test_coordinator_types_a_rule_in_dollars_and_sees_it_in_dollars(new_page, screenshot):
    factories.user(role="coordinator", email="cora@example.com")
    factories.program(amount=1000, min_sale_amount=2000, attribution_days=60, hold_days=7)
    page = new_page(**DESK)
    log_in(page, "cora@example.com", factories.PASSWORD)
    page.goto("/admin/programs")
    page.get_by_role("link", name="New USD version").click()
    assert page.get_by_label(re.compile("^Minimum sale")).input_value() == "20.00"  # starts from the one in force
    assert page.get_by_label("Attribution window (days)").input_value() == "60"
    page.get_by_label("Name").fill("Summer")
    page.get_by_label(re.compile("^Flat amount")).fill("25")
    page.get_by_label(re.compile("^Minimum sale")).fill("50")
    page.get_by_role("button", name="Create version").click()
    rules = page.locator("#rules")
    expect(rules).to_contain_text("25.00 USD per qualified referral")
    assert "50.00 USD" in rules.locator("dt:has-text('Minimum sale') + dd").inner_text()
    program = db.session.scalar(db.select(Program).filter_by(name="Summer"))
    assert (program.amount, program.min_sale_amount) == (2500, 5000)
    page.goto("/admin/programs/new?currency=usd")
    assert page.get_by_label(re.compile("^Minimum sale")).input_value() == "50.00"
    screenshot(page, "flow-rule-in-dollars")


def _flagged(referrer, n):
    """n referrals of `referrer` whose friends paid with the referrer's card: each in review, with a review task."""
    from rewards.sales.validation import revalidate

    db.session.add(Sale(external_id="own", email=referrer.email, amount=3000, currency="usd",
                        occurred_at=utcnow() - timedelta(days=40), payment_fingerprint="card-x", source="api"))
    referrals = []
    for i in range(n):
        referral = factories.referral(referrer, email=f"friend{i}@example.com", referee_name=f"Friend {i}",
                                      created_at=utcnow() - timedelta(days=3))
        db.session.add(Sale(external_id=f"s{i}", email=f"friend{i}@example.com", amount=6000, currency="usd",
                            occurred_at=utcnow() - timedelta(days=1), payment_fingerprint="card-x", source="api"))
        referrals.append(referral)
    db.session.commit()
    revalidate()
    db.session.commit()
    return referrals


def test_bulk_approval_closes_the_review_tasks(new_page, screenshot):
    factories.user(role="coordinator", email="cora@example.com")
    factories.program(amount=2500, min_sale_amount=5000)
    referrals = _flagged(factories.customer(name="Rita Referrer"), 3)
    assert {r.status for r in db.session.scalars(db.select(Referral))} == {"review"}
    page = new_page(**DESK)
    log_in(page, "cora@example.com", factories.PASSWORD)
    page.goto("/admin/review")
    assert page.locator("[data-at-stake]").first.inner_text().startswith("Approving grants 25.00 USD")
    for referral in referrals[:2]:
        page.get_by_role("checkbox", name=f"Select referral #{referral.id}").check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_text("2 referrals approved")).to_be_visible()
    page.goto("/admin/tasks")
    done = page.locator('ol.task-list[data-status="done"]').inner_text()
    todo = page.locator('ol.task-list[data-status="todo"]').inner_text()
    assert "Review referral of Friend 0" in done and "Review referral of Friend 1" in done
    assert "Review referral of Friend 2" in todo
    screenshot(page, "flow-bulk-approval-board")


def test_a_surname_search_finds_the_person(new_page):
    factories.user(role="coordinator", email="cora@example.com")
    factories.referral(referee_name="Mia Fieldtest", email="mia@example.org")
    factories.referral(referee_name="Noah Park", email="noah@example.org")
    page = new_page(**DESK)
    log_in(page, "cora@example.com", factories.PASSWORD)
    page.goto("/admin/referrals")
    page.get_by_label(re.compile("^Search")).fill("fieldtest")
    page.get_by_label(re.compile("^Search")).press("Enter")
    page.wait_for_url("**q=fieldtest**")
    table = page.locator("#pipeline").inner_text()
    assert "Mia Fieldtest" in table and "Noah Park" not in table


def test_a_customer_on_her_phone_shares_her_link_and_the_friend_sees_the_offer(new_page, screenshot, app):
    app.config["BUSINESS_NAME"] = "Acme Coffee"
    factories.program(amount=2500, min_sale_amount=5000, referee_credit_amount=1000)
    user = factories.user(role="customer", email="paula@example.com", name="Paula Portal")
    phone = new_page(**PHONE)
    log_in(phone, "paula@example.com", factories.PASSWORD)
    assert "You earn 25.00 USD for each friend" in phone.locator("[data-explainer]").inner_text()
    whatsapp = phone.locator('[data-share="whatsapp"]').get_attribute("href")
    shared_text = parse_qs(urlparse(whatsapp).query)["text"][0]
    link = re.search(r"http://\S+/r/\S+", shared_text).group(0)
    assert link.endswith(user.customer.referral_code)
    assert link in unquote(phone.locator('[data-share="sms"]').get_attribute("href"))
    assert link in unquote(phone.locator('[data-share="email"]').get_attribute("href"))
    phone.get_by_text("Show a QR code of your link").click()
    qr = phone.locator("img.qr-code")
    expect(qr).to_be_visible()
    phone.wait_for_function("document.querySelector('img.qr-code').naturalWidth > 0")  # the image, not a broken box
    screenshot(phone, "flow-phone-portal")

    friend = new_page(**PHONE)
    friend.goto(link)
    expect(friend.get_by_role("heading", name="Paula Portal invites you to Acme Coffee")).to_be_visible()
    assert "you get 10.00 USD credit on your first purchase" in friend.locator("[data-offer]").inner_text()
    assert friend.get_by_role("link", name="Log in").count() == 0
    friend.get_by_label("Your name").fill("Gina Guest")
    friend.get_by_label("Your email").fill("gina@example.com")
    friend.get_by_label(re.compile("^Your phone")).fill("555-0199")
    friend.get_by_role("button", name="Send my details").click()
    expect(friend.locator("main")).to_contain_text("Write a US number with its area code")
    friend.get_by_label(re.compile("^Your phone")).fill("(201) 555-0199")
    friend.get_by_role("button", name="Send my details").click()
    expect(friend.locator("#landing-thanks")).to_be_visible()
    screenshot(friend, "flow-phone-friend-thanks")
    assert db.session.scalar(db.select(Referral.referee_phone).filter_by(referee_email="gina@example.com")) \
        == "+12015550199"
