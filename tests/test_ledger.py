"""The ledger: balanced transactions in code and in PostgreSQL, payout legs, and `flask ledger check`."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from rewards.errors import Conflict, InvalidInput
from rewards.extensions import db
from rewards.ledger.balances import customer_balances
from rewards.ledger.check import check_ledger, unbalanced_transactions
from rewards.ledger.models import LedgerEntry, LedgerTransaction
from rewards.ledger.payouts import batch_payable, confirm_paid, reverse_transfer
from rewards.ledger.service import (AccountRef, Leg, NewTransaction, UnbalancedTransaction, expense_account, post,
                                    post_many, referrer_account)
from rewards.programs.models import Reward
from tests import factories
from tests.locking import one_after_the_other

LATER = datetime(2027, 6, 1, tzinfo=timezone.utc)


@pytest.fixture
def referrer(app):
    factories.program(amount=1000)
    return factories.customer()


def usd(customer):
    return next(b for b in customer_balances(customer.id) if b.currency == "usd").as_dict()


def test_post_refuses_legs_that_do_not_sum_to_zero_per_currency(referrer):
    earned = referrer_account("referrer_earned", referrer.id, "usd")
    with pytest.raises(UnbalancedTransaction):
        post("earn", [Leg(expense_account("usd"), -100), Leg(earned, 99)])
    with pytest.raises(UnbalancedTransaction):  # balanced in total, but not per currency
        post("earn", [Leg(expense_account("usd"), -100),
                      Leg(referrer_account("referrer_earned", referrer.id, "eur"), 100)])
    assert post("noop", [Leg(earned, 0)]) is None
    assert db.session.scalar(sa.select(sa.func.count(LedgerTransaction.id))) == 0


def test_earning_posts_expense_to_the_referrers_earned_balance(referrer):
    reward = factories.rewarded_sale(referrer)
    entries = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.reward_id == reward.id)).all()
    assert sorted((e.account.kind, e.amount) for e in entries) == [("referrer_earned", 1000), ("reward_expense", -1000)]


def _raw_unbalanced_transaction():
    """A transaction with a single leg, written past the code's checks."""
    account = expense_account("usd")
    db.session.flush()
    tx_id = db.session.execute(sa.insert(LedgerTransaction).values(
        kind="forged", memo="", created_at=datetime.now(timezone.utc)).returning(LedgerTransaction.id)).scalar_one()
    db.session.execute(sa.insert(LedgerEntry).values(transaction_id=tx_id, account_id=account.id, currency="usd",
                                                     amount=500))
    return tx_id


def test_postgres_refuses_an_unbalanced_transaction_at_commit(postgres, referrer):
    tx_id = _raw_unbalanced_transaction()
    with pytest.raises(IntegrityError, match=f"ledger transaction {tx_id} does not balance in usd"):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) == 0


def test_postgres_checks_each_statements_transactions_once_at_commit(postgres, referrer):
    """Legs may come one statement at a time; a bulk statement's transactions are all checked, and an unbalanced
    one among them refused; the queue of checks is empty again after each commit."""
    expense = expense_account("usd")
    earned = referrer_account("referrer_earned", referrer.id, "usd")
    db.session.flush()
    now = datetime.now(timezone.utc)
    ids = db.session.scalars(sa.insert(LedgerTransaction).returning(LedgerTransaction.id, sort_by_parameter_order=True),
                             [{"kind": "forged", "memo": "", "created_at": now}] * 30).all()
    db.session.execute(sa.insert(LedgerEntry).values(transaction_id=ids[0], account_id=expense.id, currency="usd",
                                                     amount=-5))
    db.session.execute(sa.insert(LedgerEntry).values(transaction_id=ids[0], account_id=earned.id, currency="usd",
                                                     amount=5))
    db.session.commit()
    legs = [{"transaction_id": tx_id, "account_id": account.id, "currency": "usd", "amount": amount}
            for tx_id in ids[1:] for account, amount in ((expense, -7), (earned, 7))]
    legs[-1]["amount"] = 8
    db.session.execute(sa.insert(LedgerEntry).values(legs))  # one statement
    with pytest.raises(IntegrityError, match=f"ledger transaction {ids[-1]} does not balance in usd"):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) == 2
    assert db.session.scalar(sa.text("SELECT count(*) FROM ledger_pending_checks")) == 0


def test_postgres_refuses_changing_or_deleting_entries(postgres, referrer):
    reward = factories.rewarded_sale(referrer)
    entry_id = db.session.scalar(sa.select(LedgerEntry.id).where(LedgerEntry.reward_id == reward.id))
    for statement in (sa.update(LedgerEntry).where(LedgerEntry.id == entry_id).values(amount=1),
                      sa.delete(LedgerEntry).where(LedgerEntry.id == entry_id)):
        with pytest.raises(IntegrityError, match="never changed or deleted"):
            db.session.execute(statement)
        db.session.rollback()


def test_postgres_refuses_a_leg_in_another_currency_than_its_account(postgres, referrer):
    usd_expense, eur_earned = expense_account("usd"), referrer_account("referrer_earned", referrer.id, "eur")
    tx = LedgerTransaction(kind="forged", entries=[LedgerEntry(account=usd_expense, currency="eur", amount=-5),
                                                   LedgerEntry(account=eur_earned, currency="eur", amount=5)])
    db.session.add(tx)
    with pytest.raises(IntegrityError, match="not in its account's currency"):
        db.session.commit()
    db.session.rollback()


def test_ledger_check_passes_on_a_sound_ledger(runner, referrer):
    factories.rewarded_sale(referrer)
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "Ledger OK" in result.output


def test_ledger_check_on_a_database_never_upgraded_says_so(tmp_path):
    """A fresh clone, or a restored backup not yet upgraded: words and exit 2, not a traceback."""
    from rewards import create_app
    from tests.conftest import _config

    empty = create_app(_config(f"sqlite:///{tmp_path / 'empty.db'}"))
    result = empty.test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 2, result.exception
    assert "Cannot check the ledger: no migrations applied: run `flask --app wsgi db upgrade`" in result.output


def test_ledger_check_names_an_unbalanced_transaction(runner, referrer, is_postgres):
    factories.rewarded_sale(referrer)
    if is_postgres:  # bypass the trigger, as a restore or a manual edit by a superuser could
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    tx_id = _raw_unbalanced_transaction()
    db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert f"transaction {tx_id} does not balance in usd: its legs sum to 500" in result.output
    assert f"transaction {tx_id} has 1 leg(s)" in result.output


def test_ledger_check_names_a_reward_edited_behind_the_ledgers_back(runner, referrer):
    reward = factories.rewarded_sale(referrer)
    db.session.execute(sa.update(Reward).where(Reward.id == reward.id).values(amount=900, granted_amount=900))
    db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert f"reward {reward.id} (held) disagrees with the ledger" in result.output
    assert f"customer {referrer.id} in usd: earned − reversed is 900" in result.output


def test_ledger_check_names_a_reward_above_its_cap(runner, app):
    factories.program(amount=1000, max_reward_amount=1000)
    reward = factories.rewarded_sale(factories.customer())
    db.session.execute(sa.update(Reward).where(Reward.id == reward.id).values(granted_amount=1200))
    db.session.commit()
    assert f"reward {reward.id} of 1200 exceeds its program's maximum 1000" in check_ledger()


def test_held_rewards_stay_out_of_a_batch(referrer):
    factories.rewarded_sale(referrer, occurred_at=datetime(2027, 5, 20, tzinfo=timezone.utc))  # held until 19 June
    assert batch_payable(referrer.id, "usd", at=LATER) is None
    assert usd(referrer)["held"] in (0, 1000)  # relative to today's date: held or payable, never lost


def test_payout_legs_move_earned_through_transit_to_paid_out(referrer):
    rewards = [factories.rewarded_sale(referrer) for _ in range(2)]
    batch = batch_payable(referrer.id, "usd", at=LATER, idempotency_key="item-1")
    db.session.commit()
    assert [r.status for r in rewards] == ["batched", "batched"]
    assert usd(referrer) == {"currency": "usd", "earned": 2000, "held": 0, "payable": 0, "batched": 2000,
                              "paid": 0, "reversed": 0, "owed": 0}
    paid = confirm_paid(batch.transaction.id, batch.net, reference="tr_1")
    assert confirm_paid(batch.transaction.id, batch.net, reference="tr_1") == paid  # a retry
    db.session.commit()
    assert [r.status for r in rewards] == ["paid", "paid"]
    assert usd(referrer)["paid"] == 2000 and usd(referrer)["batched"] == 0
    with pytest.raises(Conflict):  # a retry that claims another amount
        confirm_paid(batch.transaction.id, batch.net - 1)
    assert check_ledger() == []


def test_a_reversed_transfer_returns_to_earned_and_is_paid_again(referrer):
    factories.rewarded_sale(referrer)
    batch = batch_payable(referrer.id, "usd", at=LATER)
    confirm_paid(batch.transaction.id, batch.net)
    reverse_transfer(referrer.id, "usd", 400, idempotency_key="trr_1")
    reverse_transfer(referrer.id, "usd", 400, idempotency_key="trr_1")  # the same reversal reported twice
    db.session.commit()
    assert usd(referrer) == {"currency": "usd", "earned": 1000, "held": 0, "payable": 400, "batched": 0,
                              "paid": 600, "reversed": 0, "owed": 0}
    with pytest.raises(InvalidInput):
        reverse_transfer(referrer.id, "usd", 601, idempotency_key="trr_2")
    again = batch_payable(referrer.id, "usd", at=LATER)
    assert (again.rewards, again.net) == ([], 400)
    confirm_paid(again.transaction.id, again.net)
    db.session.commit()
    assert usd(referrer)["paid"] == 1000
    assert check_ledger() == []


def test_concurrent_batches_of_one_referrer_take_each_reward_once(postgres, referrer):
    for _ in range(3):
        factories.rewarded_sale(referrer)
    for kind in ("referrer_debt", "payouts_in_transit"):  # existing accounts: only the referrer lock orders the two
        referrer_account(kind, referrer.id, "usd")
    db.session.commit()
    referrer_id = referrer.id

    def take_payable():
        batch = batch_payable(referrer_id, "usd", at=LATER)
        return batch and batch.net

    results = one_after_the_other(postgres, take_payable)
    assert results == {"first": 3000, "second": None}
    assert usd(referrer)["batched"] == 3000
    assert check_ledger() == []


def test_post_many_checks_every_transaction_before_writing_any(referrer):
    good = NewTransaction("earn", [Leg(AccountRef("reward_expense", "usd"), -100),
                                   Leg(AccountRef("referrer_earned", "usd", referrer.id), 100)])
    bad = NewTransaction("earn", [Leg(AccountRef("reward_expense", "usd"), -100),
                                  Leg(AccountRef("referrer_earned", "eur", referrer.id), 100)])
    with pytest.raises(UnbalancedTransaction):
        post_many([good, bad])
    assert db.session.scalar(sa.select(sa.func.count(LedgerTransaction.id))) == 0
    first, nothing = post_many([good, NewTransaction("noop", [Leg(AccountRef("reward_expense", "usd"), 0)])])
    assert first is not None and nothing is None
    keyed = NewTransaction("earn", good.legs, idempotency_key="earn:test")
    assert post_many([keyed]) == post_many([keyed])  # a replay answers the first transaction
    assert db.session.scalar(sa.select(sa.func.count(LedgerTransaction.id))) == 2
    assert unbalanced_transactions() == []


def test_the_bulk_grant_writes_its_ledger_rows_through_the_balance_check(referrer, monkeypatch):
    """The bulk grant (every automatic grant) may not write legs the ledger has not checked."""
    from rewards.ledger import postings
    from rewards.programs.granting import grant_rewards

    def lopsided(reward_id, referrer_id, currency, amount):
        return NewTransaction("earn", [Leg(AccountRef("reward_expense", currency), -amount, reward_id),
                                       Leg(AccountRef("referrer_earned", currency, referrer_id), amount + 1, reward_id)])

    monkeypatch.setattr(postings, "earning", lopsided)
    monkeypatch.setattr("rewards.programs.granting.earning", lopsided, raising=False)
    r = factories.referral(referrer, created_at=datetime(2026, 2, 28, tzinfo=timezone.utc), status="qualified")
    s = factories.sale(r)
    with pytest.raises(UnbalancedTransaction):
        grant_rewards([(r.id, s.id)])


def test_postgres_commit_check_reads_only_the_transactions_it_was_given(postgres, referrer):
    """The check at commit looks up the committed transaction's legs by index, however large the ledger: it used to
    scan all of ledger_entries for every commit once PL/pgSQL had cached a generic plan (after five commits)."""
    expense = expense_account("usd")
    earned = referrer_account("referrer_earned", referrer.id, "usd")
    db.session.flush()
    # Statistics as a growing ledger has them between two ANALYZEs: taken when it held a few transactions with many
    # legs each, and old by thousands of transactions since.
    post_many([NewTransaction("adjust", [Leg(expense, -1), Leg(earned, 1)] * 50) for _ in range(40)])
    db.session.commit()
    db.session.execute(sa.text("ANALYZE ledger_entries"))
    post_many([NewTransaction("adjust", [Leg(expense, -1), Leg(earned, 1)]) for _ in range(5000)])
    db.session.commit()

    def ledger_scans():
        db.session.execute(sa.text("SELECT pg_stat_force_next_flush()"))
        db.session.commit()  # this backend's counters reach the shared statistics when its transaction ends
        return db.session.execute(sa.text("SELECT seq_scan, idx_scan FROM pg_stat_user_tables "
                                          "WHERE relname = 'ledger_entries' AND schemaname = current_schema()")).one()

    before = ledger_scans()
    for _ in range(8):  # past PL/pgSQL's five custom plans
        post("adjust", [Leg(expense, -3), Leg(earned, 3)])
        db.session.commit()
    after = ledger_scans()
    assert after.seq_scan == before.seq_scan
    assert after.idx_scan >= before.idx_scan + 8
