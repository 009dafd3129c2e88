"""Finance's payout pages and the portal's payouts, driven as a browser would (forms with their CSRF token)."""
import re

from rewards.extensions import db
from rewards.ledger.check import check_ledger
from rewards.payouts.models import PayoutAccount, PayoutBatch, PayoutItem
from tests import factories
from tests.payouts_support import app_config, approved_batch, fake_stripe, referrer_owed  # noqa: F401


def batch_id_from(response) -> int:
    return int(re.search(r"/finance/payouts/(\d+)$", response.headers["Location"]).group(1))


def test_finance_drafts_a_second_user_approves_and_executes_and_the_page_shows_it(client, pages, fake_stripe):
    factories.program(amount=1500)
    paid_to = referrer_owed(fake_stripe)
    left_out = referrer_owed(fake_stripe, account=False)
    drafter, approver = factories.user(role="finance"), factories.user(role="finance")
    pages.login(drafter.email)
    home = client.get("/finance")
    assert home.status_code == 200 and "No batches yet." in home.get_data(as_text=True)
    r = pages.submit("/finance/payouts", {"currency": "usd", "minimum": "12.50"}, form_path="/finance")
    assert r.status_code == 302
    batch_id = batch_id_from(r)
    page = client.get(f"/finance/payouts/{batch_id}").get_data(as_text=True)
    assert 'id="batch-status">draft<' in page and "15.00 USD" in page
    assert "second finance user must approve" in page and 'id="approve"' not in page
    assert left_out.name in page and "no payout account" in page
    # The drafter's own approval is refused even when posted by hand.
    pages.submit(f"/finance/payouts/{batch_id}/approve", {}, form_path=f"/finance/payouts/{batch_id}")
    assert db.session.get(PayoutBatch, batch_id).status == "draft"

    pages.logout()
    pages.login(approver.email)
    pages.submit(f"/finance/payouts/{batch_id}/approve", {}, form_path=f"/finance/payouts/{batch_id}")
    pages.submit(f"/finance/payouts/{batch_id}/execute", {}, form_path=f"/finance/payouts/{batch_id}")
    page = client.get(f"/finance/payouts/{batch_id}").get_data(as_text=True)
    item = db.session.scalar(db.select(PayoutItem).filter_by(batch_id=batch_id))
    assert 'id="batch-status">paid<' in page and item.stripe_transfer_id in page and "1 paid" in page
    home = client.get("/finance").get_data(as_text=True)
    assert f"Batch {batch_id}" in home and 'data-kind="paid">15.00 USD' in home
    history = client.get(f"/finance/referrers/{paid_to.id}/payouts").get_data(as_text=True)
    assert item.stripe_transfer_id in history and "ready to receive payouts" in history
    assert check_ledger() == []


def test_a_draft_form_with_a_bad_minimum_says_why(client, pages, fake_stripe):
    pages.login(factories.user(role="finance").email)
    r = pages.submit("/finance/payouts", {"currency": "usd", "minimum": "12.345"}, form_path="/finance")
    assert r.status_code == 422 and "2 decimals at most" in r.get_data(as_text=True)
    r = pages.submit("/finance/payouts", {"currency": "usd", "minimum": ""}, form_path="/finance")
    assert r.status_code == 422 and "Nothing is payable" in r.get_data(as_text=True)


def test_failed_items_need_attention_and_are_marked_paid_by_hand(client, pages, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=1)
    fake_stripe.balance["usd"] = 0
    pages.login(factories.user(role="finance").email)
    pages.submit(f"/finance/payouts/{batch.id}/execute", {}, form_path=f"/finance/payouts/{batch.id}")
    item = db.session.scalar(db.select(PayoutItem).filter_by(batch_id=batch.id))
    assert item.status == "failed"
    home = client.get("/finance").get_data(as_text=True)
    assert f'data-item="{item.id}"' in home and "insufficient funds" in home
    pages.submit(f"/finance/payouts/{batch.id}/items/{item.id}/mark-paid", {"reference": "SEPA 42"},
                 form_path=f"/finance/payouts/{batch.id}")
    page = client.get(f"/finance/payouts/{batch.id}").get_data(as_text=True)
    assert "SEPA 42" in page and 'id="batch-status">paid<' in page
    assert f'data-item="{item.id}"' not in client.get("/finance").get_data(as_text=True)


def test_retry_of_a_failed_item_from_the_page(client, pages, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=1)
    fake_stripe.balance["usd"] = 0
    pages.login(factories.user(role="finance").email)
    pages.submit(f"/finance/payouts/{batch.id}/execute", {}, form_path=f"/finance/payouts/{batch.id}")
    item = db.session.scalar(db.select(PayoutItem).filter_by(batch_id=batch.id))
    fake_stripe.balance["usd"] = 10**9
    pages.submit(f"/finance/payouts/{batch.id}/items/{item.id}/retry", {}, form_path=f"/finance/payouts/{batch.id}")
    db.session.expire_all()
    assert db.session.get(PayoutItem, item.id).status == "paid"
    assert db.session.get(PayoutBatch, batch.id).status == "paid"


def test_finance_attaches_an_account_on_the_referrer_page(client, pages, fake_stripe):
    customer = factories.customer()
    pages.login(factories.user(role="finance").email)
    path = f"/finance/referrers/{customer.id}/payouts"
    r = pages.submit(path, {"stripe_account_id": "acct_unknown123"})
    assert r.status_code == 422 and "no such connected account" in r.get_data(as_text=True)
    remote = fake_stripe.add_account(ready=True)
    assert pages.submit(path, {"stripe_account_id": remote["id"]}).status_code == 302
    assert "ready to receive payouts" in client.get(path).get_data(as_text=True)


def test_coordinators_and_customers_do_not_reach_finance_pages(client, pages, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=1)
    for role in ("coordinator", "customer"):
        pages.login(factories.user(role=role).email)
        assert client.get(f"/finance/payouts/{batch.id}").status_code == 403
        assert client.get("/finance").status_code == 403
        pages.logout()


def test_the_portal_shows_the_customers_own_payouts_only(client, pages, fake_stripe):
    factories.program(amount=1000)
    mine = factories.user(role="customer")
    factories.rewarded_sale(mine.customer, amount=10000)
    from tests.payouts_support import account_row, users_of_finance
    from rewards.payouts import service
    from rewards.payouts.executor import execute_batch

    account_row(fake_stripe, mine.customer)
    other = referrer_owed(fake_stripe, amount=1000)
    drafter, approver = users_of_finance()
    batch = service.draft_batch("usd", None, drafter)
    db.session.commit()
    service.approve_batch(batch.id, approver)
    db.session.commit()
    execute_batch(batch.id)
    pages.login(mine.email)
    page = client.get("/portal/payouts").get_data(as_text=True)
    own_item = db.session.scalar(db.select(PayoutItem).filter_by(customer_id=mine.customer.id))
    other_item = db.session.scalar(db.select(PayoutItem).filter_by(customer_id=other.id))
    assert f'data-item="{own_item.id}"' in page and "10.00 USD" in page
    assert f'data-item="{other_item.id}"' not in page and other_item.stripe_transfer_id not in page


def test_get_paid_onboards_through_stripe_and_the_return_page_reads_readiness(client, pages, fake_stripe):
    user = factories.user(role="customer")
    pages.login(user.email)
    page = client.get("/portal/payouts").get_data(as_text=True)
    assert 'id="get-paid"' in page and "No payout account yet." in page
    r = pages.submit("/portal/payouts/connect", {}, form_path="/portal/payouts")
    assert r.status_code == 303 and r.headers["Location"].startswith("https://connect.stripe.com/setup/")
    account = db.session.scalar(db.select(PayoutAccount).filter_by(customer_id=user.customer.id))
    fake_stripe.set_ready(account.stripe_account_id, True)
    back = client.get("/portal/payouts/return", follow_redirects=True).get_data(as_text=True)
    assert "Your payout account is ready." in back and 'data-ready="yes"' in back
    r = pages.submit("/portal/payouts/dashboard", {}, form_path="/portal/payouts")
    assert r.status_code == 303 and r.headers["Location"].startswith("https://connect.stripe.com/express/")
    refresh = client.get("/portal/payouts/refresh")
    assert refresh.status_code == 303 and len(fake_stripe.accounts) == 1
