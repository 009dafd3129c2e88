"""Payout batches and payout accounts through /api/v1, against the fake Stripe server: draft, skip, cancel,
four eyes, execute, manual payment, onboarding and attaching accounts, and who may do each."""
import pytest

from rewards.extensions import db
from rewards.ledger.balances import customer_balances
from rewards.ledger.check import check_ledger
from rewards.payouts.models import PayoutAccount, PayoutBatch, PayoutItem
from rewards.programs.models import Reward
from tests import factories
from tests.payouts_support import (account_row, app_config, approved_batch, fake_stripe, referrer_owed,  # noqa: F401
                                   users_of_finance)

BATCHES = "/api/v1/payout-batches"


def balance(customer_id, currency="usd"):
    return next((b.as_dict() for b in customer_balances(customer_id) if b.currency == currency), {})


def test_draft_freezes_amounts_and_lists_who_is_left_out(api_as, fake_stripe):
    factories.program(amount=1000)
    ready = referrer_owed(fake_stripe, rewards=2)
    no_account = referrer_owed(fake_stripe, account=False)
    not_ready = referrer_owed(fake_stripe, ready=False)
    small = referrer_owed(fake_stripe)
    api = api_as("finance")
    r = api.post(BATCHES, json={"currency": "usd", "minimum_amount": 1500})
    assert r.status_code == 201, r.json
    body = r.json
    assert body["status"] == "draft" and body["total"] == 2000
    assert [(i["customer_id"], i["amount"], i["currency"], i["status"]) for i in body["items"]] == \
        [(ready.id, 2000, "usd", "pending")]
    assert sorted((s["customer_id"], s["reason"]) for s in body["skipped"]) == sorted([
        (no_account.id, "no payout account"), (not_ready.id, "account not ready"), (small.id, "below minimum")])
    # The money moved into transit and the rewards are batched: a second draft finds nothing for `ready`.
    assert balance(ready.id)["batched"] == 2000
    assert {r.status for r in db.session.scalars(db.select(Reward).filter_by(referrer_id=ready.id))} == {"batched"}
    again = api.post(BATCHES, json={"currency": "usd", "minimum_amount": 1500})
    assert again.status_code == 409 and "Nothing is payable" in again.json["message"]
    assert check_ledger() == []


@pytest.mark.parametrize("body, field", [({"currency": "USD"}, "currency"), ({"currency": "usd", "minimum_amount": 0},
                                         "minimum_amount"), ({"currency": "usd", "minimum_amount": 1.5},
                                                             "minimum_amount"), ({}, "currency"),
                                         ({"currency": "usd", "extra": 1}, "extra")])
def test_draft_refuses_bad_input_with_422(api_as, body, field):
    r = api_as("finance").post(BATCHES, json=body)
    assert r.status_code == 422 and field in r.json["errors"]["json"]


def test_cancel_gives_the_rewards_back_and_only_drafts_cancel(api_as, fake_stripe):
    factories.program(amount=1000)
    customer = referrer_owed(fake_stripe)
    drafter, approver = users_of_finance()
    batch = api_as(user=drafter).post(BATCHES, json={"currency": "usd"}).json
    r = api_as(user=drafter).post(f"{BATCHES}/{batch['id']}/cancel")
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    assert balance(customer.id)["batched"] == 0 and balance(customer.id)["payable"] == 1000
    assert api_as(user=drafter).post(f"{BATCHES}/{batch['id']}/cancel").status_code == 409
    assert api_as(user=approver).post(f"{BATCHES}/{batch['id']}/approve").status_code == 409
    second = api_as(user=drafter).post(BATCHES, json={"currency": "usd"})
    assert second.status_code == 201 and second.json["total"] == 1000
    api_as(user=approver).post(f"{BATCHES}/{second.json['id']}/approve")
    assert api_as(user=drafter).post(f"{BATCHES}/{second.json['id']}/cancel").status_code == 409
    assert check_ledger() == []


def test_four_eyes_the_drafter_may_not_approve_another_finance_or_admin_user_may(api_as, fake_stripe):
    factories.program(amount=1000)
    referrer_owed(fake_stripe)
    drafter = factories.user(role="finance")
    batch_id = api_as(user=drafter).post(BATCHES, json={"currency": "usd"}).json["id"]
    mine = api_as(user=drafter).post(f"{BATCHES}/{batch_id}/approve")
    assert mine.status_code == 403 and "second person" in mine.json["message"]
    assert api_as("coordinator").post(f"{BATCHES}/{batch_id}/approve").status_code == 403
    assert api_as("customer").post(f"{BATCHES}/{batch_id}/approve").status_code == 403
    assert api_as(user=drafter).post(f"{BATCHES}/{batch_id}/execute").status_code == 409  # a draft does not run
    admin = api_as("admin").post(f"{BATCHES}/{batch_id}/approve")
    assert admin.status_code == 200 and admin.json["status"] == "approved"
    assert api_as("finance").post(f"{BATCHES}/{batch_id}/approve").status_code == 409


def test_an_admin_who_drafted_cannot_approve_either(api_as, fake_stripe):
    factories.program(amount=1000)
    referrer_owed(fake_stripe)
    admin = factories.user(role="admin")
    batch_id = api_as(user=admin).post(BATCHES, json={"currency": "usd"}).json["id"]
    assert api_as(user=admin).post(f"{BATCHES}/{batch_id}/approve").status_code == 403


@pytest.mark.parametrize("role", ["coordinator", "customer"])
def test_only_finance_and_admin_touch_batches(api_as, fake_stripe, role):
    batch = approved_batch(fake_stripe, referrers=1)
    api = api_as(role)
    for method, path, body in [("get", BATCHES, None), ("post", BATCHES, {"currency": "usd"}),
                               ("get", f"{BATCHES}/{batch.id}", None), ("post", f"{BATCHES}/{batch.id}/cancel", None),
                               ("post", f"{BATCHES}/{batch.id}/approve", None),
                               ("post", f"{BATCHES}/{batch.id}/execute", None),
                               ("post", f"{BATCHES}/{batch.id}/items/{batch.items[0].id}/mark-paid",
                                {"reference": "x"})]:
        assert getattr(api, method)(path, json=body).status_code == 403, (method, path)
    assert fake_stripe.transfers_made() == []


def test_execute_pays_each_item_by_one_transfer_and_settles_the_ledger(api_as, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=3)
    api = api_as("finance")
    r = api.post(f"{BATCHES}/{batch.id}/execute")
    assert r.status_code == 202
    body = api.get(f"{BATCHES}/{batch.id}").json
    assert body["status"] == "paid"
    transfers = {t["id"]: t for t in fake_stripe.transfers_made()}
    assert len(transfers) == 3
    for item in body["items"]:
        assert item["status"] == "paid" and item["method"] == "stripe"
        transfer = transfers[item["stripe_transfer_id"]]
        assert transfer["amount"] == item["amount"] and transfer["transfer_group"] == item["transfer_group"]
        assert transfer["metadata"] == {"refero_batch_id": str(batch.id), "refero_item_id": str(item["id"])}
        assert balance(item["customer_id"])["paid"] == item["amount"]
    # Running it again sends nothing: a paid item is never sent again.
    assert api.post(f"{BATCHES}/{batch.id}/execute").status_code == 202
    assert len(fake_stripe.transfers_made()) == 3
    assert {r.status for r in db.session.scalars(db.select(Reward))} == {"paid"}
    assert check_ledger() == []
    listed = api.get(f"{BATCHES}?status=paid")
    assert [b["id"] for b in listed.json] == [batch.id] and '"total": 1' in listed.headers["X-Pagination"]


def test_a_failed_item_is_marked_paid_by_hand_with_its_reference(api_as, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=2)
    fake_stripe.fault("insufficient_balance", times=1)
    api = api_as("finance")
    api.post(f"{BATCHES}/{batch.id}/execute")
    body = api.get(f"{BATCHES}/{batch.id}").json
    assert body["status"] == "partially_failed"
    failed = next(i for i in body["items"] if i["status"] == "failed")
    assert failed["failure_message"].startswith("You have insufficient funds")
    path = f"{BATCHES}/{batch.id}/items/{failed['id']}/mark-paid"
    assert api.post(path, json={}).status_code == 422
    assert api.post(path, json={"reference": "   "}).status_code == 422
    r = api.post(path, json={"reference": "BANK-2026-001"})
    assert r.status_code == 200
    assert (r.json["status"], r.json["method"], r.json["reference"], r.json["stripe_transfer_id"]) == \
        ("paid", "manual", "BANK-2026-001", None)
    assert api.get(f"{BATCHES}/{batch.id}").json["status"] == "paid"
    assert api.post(path, json={"reference": "again"}).status_code == 409
    assert balance(failed["customer_id"])["paid"] == failed["amount"]
    assert len(fake_stripe.transfers_made()) == 1
    assert check_ledger() == []


def test_unknown_batch_and_item_are_404(api_as, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=1)
    api = api_as("finance")
    assert api.get(f"{BATCHES}/999999").status_code == 404
    assert api.post(f"{BATCHES}/999999/approve").status_code == 404
    assert api.post(f"{BATCHES}/{batch.id}/items/999999/mark-paid", json={"reference": "x"}).status_code == 404


@pytest.fixture
def no_stripe(app):
    app.config["STRIPE_SECRET_KEY"] = None
    app.extensions.pop("payouts_stripe", None)


def test_without_stripe_items_fail_as_not_configured_and_are_paid_by_hand(api_as, fake_stripe, no_stripe):
    batch = approved_batch(fake_stripe, referrers=1)
    api = api_as("finance")
    assert api.post(f"{BATCHES}/{batch.id}/execute").status_code == 202
    body = api.get(f"{BATCHES}/{batch.id}").json
    item = body["items"][0]
    assert body["status"] == "partially_failed"
    assert item["status"] == "failed" and "Stripe is not configured" in item["failure_message"]
    r = api.post(f"{BATCHES}/{batch.id}/items/{item['id']}/mark-paid", json={"reference": "CHQ 123"})
    assert r.status_code == 200 and r.json["method"] == "manual"
    assert fake_stripe.requests == []
    customer = api_as("customer")
    own = customer.post(f"/api/v1/customers/{customer.user.customer.id}/payout-account/onboarding")
    assert own.status_code == 503 and "not configured" in own.json["message"]


def test_customer_onboards_to_an_express_account_with_transfers(api_as, fake_stripe):
    api = api_as("customer")
    customer = api.user.customer
    path = f"/api/v1/customers/{customer.id}/payout-account/onboarding"
    r = api.post(path)
    assert r.status_code == 200 and r.json["url"].startswith("https://connect.stripe.com/setup/")
    account = db.session.scalar(db.select(PayoutAccount).filter_by(customer_id=customer.id))
    remote = fake_stripe.accounts[account.stripe_account_id]
    assert remote["type"] == "express" and remote["email"] == customer.email
    assert not account.ready
    assert api.post(path).status_code == 200  # a second link, the same account
    assert len(fake_stripe.accounts) == 1
    shown = api.get(f"/api/v1/customers/{customer.id}/payout-account").json
    assert shown["stripe_account_id"] == account.stripe_account_id and shown["ready"] is False
    other = factories.customer()
    assert api.post(f"/api/v1/customers/{other.id}/payout-account/onboarding").status_code == 404
    assert api.get(f"/api/v1/customers/{other.id}/payout-account").status_code == 404


def test_finance_attaches_an_existing_account_checked_with_stripe(api_as, fake_stripe):
    customer = factories.customer()
    api = api_as("finance")
    path = f"/api/v1/customers/{customer.id}/payout-account"
    unknown = api.put(path, json={"stripe_account_id": "acct_doesnotexist1"})
    assert unknown.status_code == 422 and "no such connected account" in unknown.json["message"]
    assert api.put(path, json={"stripe_account_id": "not-an-id"}).status_code == 422
    remote = fake_stripe.add_account(ready=True)
    r = api.put(path, json={"stripe_account_id": remote["id"]})
    assert r.status_code == 200 and r.json["ready"] is True and r.json["transfers_capability"] == "active"
    other = factories.customer()
    taken = api.put(f"/api/v1/customers/{other.id}/payout-account", json={"stripe_account_id": remote["id"]})
    assert taken.status_code == 409
    assert api_as("coordinator").put(path, json={"stripe_account_id": remote["id"]}).status_code == 403
    assert api_as("customer").put(path, json={"stripe_account_id": remote["id"]}).status_code == 403


def test_a_batch_item_belongs_to_one_referrer_and_total_adds_up(api_as, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=4, amount=1234)
    items = db.session.scalars(db.select(PayoutItem).filter_by(batch_id=batch.id)).all()
    assert len({i.customer_id for i in items}) == 4 and len({i.transfer_group for i in items}) == 4
    assert db.session.get(PayoutBatch, batch.id).total == sum(i.amount for i in items) == 4 * 1234
