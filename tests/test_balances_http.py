"""After random grants, refunds, batches, settlements, releases, transfer reversals and clawbacks, the portal,
the staff customer page, the dashboard and the API show the ledger's numbers, read over HTTP."""
import re
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.ledger.check import check_ledger
from rewards.ledger.models import Reward
from rewards.ledger.payouts import batch_payable, confirm_paid, release_batch, reverse_transfer
from rewards.ledger.service import referrer_balances
from rewards.money import minor_unit_digits
from tests import factories
from tests.conftest import Pages, _empty_all_tables

FIELDS = ("held", "payable", "batched", "paid", "reversed", "owed")


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": False}


def _minor(text: str, currency: str) -> int:
    amount = Decimal(text.strip().split()[0].replace(",", ""))
    return int(amount.scaleb(minor_unit_digits(currency)))


def _table(html: str, table_id: str) -> dict[str, dict[str, int]]:
    """{currency: {field: minor units}} of a balance table on a page."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    if table is None:
        return {}
    rows = {}
    for currency, cells in re.findall(r'<tr data-currency="([a-z]{3})">(.*?)</tr>', table.group(0), re.S):
        rows[currency] = {field: _minor(text, currency)
                          for field, text in re.findall(r'data-balance="(\w+)">([^<]+)<', cells)}
    return rows


def _from_the_ledger(customer_id: int) -> dict[str, dict[str, int]]:
    """The expected figures, summed here from ledger entries and reward states, not by the read model."""
    now, accounts = utcnow(), referrer_balances(customer_id)
    rewards = db.session.scalars(sa.select(Reward).where(Reward.referrer_id == customer_id)).all()
    figures = {}
    for currency in sorted(set(accounts) | {r.currency for r in rewards}):
        kinds = accounts.get(currency, defaultdict(int))
        mine = [r for r in rewards if r.currency == currency]
        held = sum(r.amount for r in mine if r.status == "held" and r.payable_at > now)
        figures[currency] = {"held": held, "payable": kinds["referrer_earned"] - held,
                             "batched": kinds["payouts_in_transit"], "paid": kinds["paid_out"],
                             "reversed": sum(r.granted_amount - r.value for r in mine), "owed": -kinds["referrer_debt"]}
    return figures


actions = st.lists(st.one_of(
    st.tuples(st.just("sale"), st.integers(0, 2), st.sampled_from(("usd", "usd", "jpy")), st.integers(0, 60000),
              st.integers(0, 60)),
    st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 100)),
    st.tuples(st.just("batch"), st.integers(0, 2), st.sampled_from(("usd", "jpy"))),
    st.tuples(st.just("settle"), st.integers(0, 50), st.booleans()),  # pay it, or release it (a cancelled draft)
    st.tuples(st.just("reverse"), st.integers(0, 2), st.integers(1, 100)),
), min_size=1, max_size=14)


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(actions=actions)
def test_every_page_and_the_api_show_the_ledgers_balances(app, actions):
    db.session.remove()
    _empty_all_tables()
    factories.program(reward_type="percent", percent="10", hold_days=30, yearly_cap_amount=9000,
                      tiers=[{"from_referral": 3, "percent": "15"}])
    factories.program(currency="jpy", amount=500, hold_days=30)
    users = [factories.user("customer") for _ in range(3)]
    referrers = [user.customer for user in users]
    sales, drafts, reversals = [], [], 0
    for action in actions:
        if action[0] == "sale":
            _, who, currency, amount, days_ago = action
            reward = factories.rewarded_sale(referrers[who], amount=amount, currency=currency,
                                             occurred_at=utcnow() - timedelta(days=days_ago))
            sales.append(reward.sale if reward else None)
        elif action[0] == "refund" and any(sales):
            sale = [s for s in sales if s][action[1] % len([s for s in sales if s])]
            db.session.refresh(sale)
            left = sale.amount - sale.refunded_amount
            if left * action[2] // 100 > 0:
                factories.refund(sale, left * action[2] // 100)
        elif action[0] == "batch":
            batched = batch_payable(referrers[action[1]].id, action[2])
            db.session.commit()
            if batched is not None:
                drafts.append(batched)
        elif action[0] == "settle" and drafts:
            draft = drafts.pop(action[1] % len(drafts))
            confirm_paid(draft.transaction.id, draft.net) if action[2] else release_batch(draft.transaction.id)
            db.session.commit()
        elif action[0] == "reverse":
            referrer = referrers[action[1]]
            paid = referrer_balances(referrer.id).get("usd", {}).get("paid_out", 0)
            if paid * action[2] // 100 > 0:
                reversals += 1
                reverse_transfer(referrer.id, "usd", paid * action[2] // 100,
                                 idempotency_key=f"transfer_reversal:trr_{reversals}")
                db.session.commit()
    assert check_ledger() == []

    staff = Pages(app.test_client())
    staff.login(factories.user("coordinator").email)
    _, key = factories.api_key(factories.user("finance"))
    api = app.test_client()
    totals = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    for user, referrer in zip(users, referrers):
        expected = _from_the_ledger(referrer.id)
        for currency, figures in expected.items():
            for field in FIELDS:
                totals[currency][field] += figures[field]
        portal = Pages(app.test_client())
        portal.login(user.email)
        assert _table(portal.client.get("/portal").get_data(as_text=True), "earnings-totals") == expected
        page = staff.client.get(f"/admin/customers/{referrer.id}").get_data(as_text=True)
        assert _table(page, "balances") == expected
        answer = api.get(f"/api/v1/customers/{referrer.id}/balance", headers={"Authorization": f"Bearer {key}"})
        assert {row["currency"]: {field: row[field] for field in FIELDS} for row in answer.json} == expected
    assert _table(staff.client.get("/admin").get_data(as_text=True), "reward-totals") == dict(totals)
