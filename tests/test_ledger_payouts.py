"""The payout postings the payouts feature builds on: idempotent batches, settlements tied to their batch,
releases of cancelled drafts, the read-only payable summary, and what `ledger check` proves about them."""
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from rewards.errors import Conflict, NotFound
from rewards.extensions import db
from rewards.ledger.check import check_ledger
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction, Reward
from rewards.audit.models import AuditEvent
from rewards.ledger.payouts import (batch_of, batch_payable, batch_payable_many, confirm_paid, payable_summaries,
                                    payable_summary, release_batch, reverse_transfer)
from rewards.ledger.service import AccountRef, Leg, post
from tests import factories

MARCH = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
LATER = datetime(2027, 6, 1, tzinfo=timezone.utc)


@pytest.fixture
def referrer(app):
    factories.program(amount=1000)
    return factories.customer()


def _counts():
    return [db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (LedgerTransaction, LedgerEntry, Account)]


# Defect 1: a replay of batch_payable with its key batched rewards that matured since, without entries.
def test_replaying_a_batch_returns_the_original_and_leaves_rewards_that_matured_since(referrer):
    first = factories.rewarded_sale(referrer, occurred_at=MARCH)
    batch = batch_payable(referrer.id, "usd", at=MARCH + timedelta(days=40), idempotency_key="batch:payout-item:1")
    db.session.commit()
    later = factories.rewarded_sale(referrer, occurred_at=MARCH + timedelta(days=20))  # payable from day 50
    before = _counts()

    replay = batch_payable(referrer.id, "usd", at=MARCH + timedelta(days=60), idempotency_key="batch:payout-item:1")
    db.session.commit()

    assert (replay.transaction.id, [r.id for r in replay.rewards], replay.gross, replay.netted, replay.net) == \
        (batch.transaction.id, [first.id], 1000, 0, 1000)
    assert _counts() == before
    assert db.session.get(Reward, later.id).status == "held"
    assert check_ledger() == []


def test_a_batch_key_used_for_another_referrer_is_a_conflict(referrer):
    factories.rewarded_sale(referrer)
    other = factories.customer()
    factories.rewarded_sale(other)
    batch_payable(referrer.id, "usd", at=LATER, idempotency_key="batch:payout-item:7")
    with pytest.raises(Conflict):
        batch_payable(other.id, "usd", at=LATER, idempotency_key="batch:payout-item:7")


# Defect 2: confirm_paid for an amount of 0 stored no key, so its retry answered 409.
def test_a_zero_net_batch_is_confirmed_once_and_its_retry_gives_the_same_answer(app):
    factories.program(reward_type="percent", percent="10")
    referrer = factories.customer()
    big = factories.rewarded_sale(referrer, amount=50000)
    first = batch_payable(referrer.id, "usd", at=LATER)
    confirm_paid(first.transaction.id, first.net)
    factories.refund(big.sale, 50000)  # the referrer owes 5000
    small = factories.rewarded_sale(referrer, amount=20000)
    zero = batch_payable(referrer.id, "usd", at=LATER)
    assert (zero.gross, zero.netted, zero.net) == (2000, 2000, 0)

    paid = confirm_paid(zero.transaction.id, 0)
    db.session.commit()
    retry = confirm_paid(zero.transaction.id, 0)
    db.session.commit()

    assert retry.id == paid.id and paid.batch_transaction_id == zero.transaction.id
    assert db.session.get(Reward, small.id).status == "paid"
    assert check_ledger() == []


# Defect 3: confirm_paid accepted any rewards with any amount up to what is in transit.
def test_confirm_paid_settles_its_own_batch_with_exactly_its_net(referrer):
    factories.rewarded_sale(referrer, occurred_at=MARCH)
    item_a = batch_payable(referrer.id, "usd", at=LATER, idempotency_key="batch:payout-item:a")
    factories.rewarded_sale(referrer, occurred_at=MARCH)
    factories.rewarded_sale(referrer, occurred_at=MARCH)
    item_b = batch_payable(referrer.id, "usd", at=LATER, idempotency_key="batch:payout-item:b")
    db.session.commit()
    assert (item_a.net, item_b.net) == (1000, 2000)

    with pytest.raises(Conflict):  # item A's batch with A + B's amount
        confirm_paid(item_a.transaction.id, item_a.net + item_b.net)
    with pytest.raises(Conflict):
        confirm_paid(item_a.transaction.id, item_a.net - 1)
    with pytest.raises(NotFound):
        confirm_paid(item_a.transaction.id + 1000, item_a.net)
    db.session.rollback()

    confirm_paid(item_a.transaction.id, item_a.net)
    db.session.commit()
    assert [r.status for r in batch_of(item_a.transaction.id).rewards] == ["paid"]
    assert [r.status for r in batch_of(item_b.transaction.id).rewards] == ["batched", "batched"]
    assert check_ledger() == []


def test_ledger_check_names_a_payment_that_moves_more_than_its_batch_sent(referrer):
    factories.rewarded_sale(referrer)
    item_a = batch_payable(referrer.id, "usd", at=LATER)
    factories.rewarded_sale(referrer)
    batch_payable(referrer.id, "usd", at=LATER)
    # Written past confirm_paid, as the old one-size-fits-all confirmation allowed: A's batch paid with A + B.
    forged = post("paid", [Leg(AccountRef("payouts_in_transit", "usd", referrer.id), -2000),
                           Leg(AccountRef("paid_out", "usd", referrer.id), 2000)],
                  customer_id=referrer.id, batch_transaction_id=item_a.transaction.id)
    for reward in item_a.rewards:
        reward.status = "paid"
    db.session.commit()
    problems = check_ledger()
    assert f"paid transaction {forged.id} moves 2000 to paid out, but its batch transaction " \
           f"{item_a.transaction.id} sent 1000" in problems
    assert f"customer {referrer.id} in usd: the unsettled batches sent 1000, but 0 is in transit" in problems


# Defect 4: rewards cut to 0 by a cap were batched with no entries.
def test_a_reward_the_yearly_cap_cut_to_nothing_is_never_batched(app):
    factories.program(amount=1000, yearly_cap_amount=1000)
    referrer = factories.customer()
    full = factories.rewarded_sale(referrer, occurred_at=MARCH)
    nothing = factories.rewarded_sale(referrer, occurred_at=MARCH + timedelta(days=1))
    assert (full.amount, nothing.amount) == (1000, 0)

    batch = batch_payable(referrer.id, "usd", at=LATER)
    db.session.commit()

    assert [r.id for r in batch.rewards] == [full.id]
    assert db.session.get(Reward, nothing.id).status == "held"
    assert batch_payable(referrer.id, "usd", at=LATER) is None
    assert check_ledger() == []


def test_ledger_check_names_a_reward_batched_outside_any_batch(referrer):
    reward = factories.rewarded_sale(referrer)
    db.session.execute(sa.update(Reward).where(Reward.id == reward.id).values(status="batched"))
    db.session.commit()
    assert f"reward {reward.id} is batched and belongs to 0 batches, not exactly one" in check_ledger()


def test_ledger_check_names_a_payment_that_settles_no_batch(referrer):
    factories.rewarded_sale(referrer)
    batch_payable(referrer.id, "usd", at=LATER)
    forged = post("paid", [Leg(AccountRef("payouts_in_transit", "usd", referrer.id), -1000),
                           Leg(AccountRef("paid_out", "usd", referrer.id), 1000)], customer_id=referrer.id)
    db.session.commit()
    assert f"paid transaction {forged.id} settles no payout batch" in check_ledger()


def test_ledger_check_names_a_batch_that_sends_other_than_its_net(referrer):
    reward = factories.rewarded_sale(referrer)
    forged = post("batch", [Leg(AccountRef("referrer_earned", "usd", referrer.id), -1000, reward.id),
                            Leg(AccountRef("payouts_in_transit", "usd", referrer.id), 600),
                            Leg(AccountRef("reward_expense", "usd"), 400)], customer_id=referrer.id)
    db.session.commit()
    assert f"batch transaction {forged.id} moves money of accounts other than customer {referrer.id}'s earned, " \
           f"debt and in-transit ones" in check_ledger()


def test_releasing_a_cancelled_draft_puts_everything_back_exactly(referrer):
    rewards = [factories.rewarded_sale(referrer) for _ in range(2)]
    before = payable_summary(referrer.id, "usd", at=LATER)
    batch = batch_payable(referrer.id, "usd", at=LATER, idempotency_key="batch:payout-item:9")
    db.session.commit()

    release = release_batch(batch.transaction.id)
    assert release_batch(batch.transaction.id).id == release.id  # a retry
    db.session.commit()

    assert [db.session.get(Reward, r.id).effective_status for r in rewards] == ["payable", "payable"]
    assert payable_summary(referrer.id, "usd", at=LATER) == before
    with pytest.raises(Conflict):
        confirm_paid(batch.transaction.id, batch.net)
    again = batch_payable(referrer.id, "usd", at=LATER)
    assert sorted(r.id for r in again.rewards) == sorted(r.id for r in rewards)
    confirm_paid(again.transaction.id, again.net)
    db.session.commit()
    with pytest.raises(Conflict):
        release_batch(again.transaction.id)
    assert check_ledger() == []


def test_releasing_a_batch_with_a_debt_netted_and_a_reward_refunded_meanwhile(app):
    factories.program(amount=1000)
    referrer = factories.customer()
    paid = factories.rewarded_sale(referrer)
    first = batch_payable(referrer.id, "usd", at=LATER)
    confirm_paid(first.transaction.id, first.net)
    factories.refund(paid.sale, paid.sale.amount)  # owes 1000
    kept, refunded = factories.rewarded_sale(referrer), factories.rewarded_sale(referrer)
    draft = batch_payable(referrer.id, "usd", at=LATER)
    assert (draft.gross, draft.netted, draft.net) == (2000, 1000, 1000)
    factories.refund(refunded.sale, refunded.sale.amount)  # while in the draft: a clawback
    assert check_ledger() == []

    release_batch(draft.transaction.id)
    db.session.commit()

    assert (db.session.get(Reward, kept.id).effective_status, db.session.get(Reward, refunded.id).status) == \
        ("payable", "reversed")
    summary = payable_summary(referrer.id, "usd", at=LATER)
    assert (summary.gross, summary.owed, summary.netted, summary.net) == (1000, 1000, 1000, 0)
    assert check_ledger() == []


def test_payable_summary_nets_the_debt_counts_reversed_transfers_and_writes_nothing(app):
    factories.program(amount=1000)
    rita, sam = factories.customer(), factories.customer()
    paid = factories.rewarded_sale(rita)
    batch = batch_payable(rita.id, "usd", at=LATER)
    confirm_paid(batch.transaction.id, batch.net)
    reverse_transfer(rita.id, "usd", 300, idempotency_key="transfer_reversal:trr_1")
    factories.refund(paid.sale, paid.sale.amount)  # 1000 owed
    factories.rewarded_sale(rita)
    factories.rewarded_sale(sam)
    db.session.commit()
    before = _counts()

    summary = payable_summary(rita.id, "usd", at=LATER)
    many = payable_summaries("usd", at=LATER)

    assert (summary.rewards_amount, summary.from_reversed_transfers, summary.gross, summary.owed,
            summary.netted, summary.net) == (1000, 300, 1300, 1000, 1000, 300)
    assert many[rita.id] == summary and many[sam.id].net == 1000
    assert payable_summary(rita.id, "eur", at=LATER).gross == 0
    assert _counts() == before
    batched = batch_payable(rita.id, "usd", at=LATER)
    assert (batched.gross, batched.netted, batched.net) == (1300, 1000, 300)
    assert check_ledger() == []


def test_batching_many_referrers_at_once_moves_what_each_would_move_alone(app):
    factories.program(amount=1000)
    rita, sam, nobody = factories.customer(), factories.customer(), factories.customer()
    paid = factories.rewarded_sale(rita)
    first = batch_payable(rita.id, "usd", at=LATER)
    confirm_paid(first.transaction.id, first.net)
    reverse_transfer(rita.id, "usd", 300, idempotency_key="transfer_reversal:trr_9")
    factories.refund(paid.sale, paid.sale.amount)  # rita owes 1000
    rita_reward = factories.rewarded_sale(rita)
    sam_rewards = [factories.rewarded_sale(sam), factories.rewarded_sale(sam)]
    db.session.commit()
    summaries = payable_summaries("usd", at=LATER)

    moved = batch_payable_many("usd", [(sam.id, "batch:many:sam"), (nobody.id, None), (rita.id, "batch:many:rita")],
                               at=LATER)
    db.session.commit()

    sam_batch, nothing, rita_batch = moved
    assert nothing is None
    assert (rita_batch.gross, rita_batch.netted, rita_batch.net) == \
        (summaries[rita.id].gross, summaries[rita.id].netted, summaries[rita.id].net) == (1300, 1000, 300)
    assert (sam_batch.gross, sam_batch.netted, sam_batch.net) == (2000, 0, 2000)
    assert [r.id for r in sam_batch.rewards] == [r.id for r in sam_rewards]
    assert {db.session.get(Reward, r.id).status for r in [rita_reward, *sam_rewards]} == {"batched"}
    for batched in (sam_batch, rita_batch):  # stored as batch_payable stores one: batch_of rebuilds it the same
        again = batch_of(batched.transaction.id)
        assert (again.customer_id, [r.id for r in again.rewards], again.gross, again.netted, again.net) == \
            (batched.customer_id, [r.id for r in batched.rewards], batched.gross, batched.netted, batched.net)
    events = db.session.execute(sa.select(AuditEvent.entity_id, AuditEvent.detail)
                                .where(AuditEvent.action == "reward.batched")).all()
    assert sorted(events) == sorted(
        [(paid.id, {"amount": 1000, "batch_transaction_id": first.transaction.id}),
         (rita_reward.id, {"amount": 1000, "batch_transaction_id": rita_batch.transaction.id})]
        + [(r.id, {"amount": 1000, "batch_transaction_id": sam_batch.transaction.id}) for r in sam_rewards])
    assert batch_payable_many("usd", [(sam.id, None), (rita.id, None)], at=LATER) == [None, None]
    assert check_ledger() == []


def test_replaying_many_keys_answers_the_first_batches_and_batches_only_the_new_referrer(referrer):
    others = [factories.customer() for _ in range(2)]
    first = [factories.rewarded_sale(c, occurred_at=MARCH) for c in [referrer, *others]]
    keys = [(c.id, f"batch:payout-batch-1:customer-{c.id}") for c in [referrer, others[0]]]
    batches = batch_payable_many("usd", keys, at=MARCH + timedelta(days=40))
    db.session.commit()
    later = factories.rewarded_sale(referrer, occurred_at=MARCH + timedelta(days=20))  # payable from day 50
    before = _counts()

    replay = batch_payable_many("usd", keys, at=MARCH + timedelta(days=60))
    db.session.commit()
    assert [(b.transaction.id, [r.id for r in b.rewards], b.net) for b in replay] == \
        [(b.transaction.id, [r.id for r in b.rewards], b.net) for b in batches] == \
        [(batches[0].transaction.id, [first[0].id], 1000), (batches[1].transaction.id, [first[1].id], 1000)]
    assert _counts() == before
    assert db.session.get(Reward, later.id).status == "held"

    mixed = batch_payable_many("usd", [*keys, (others[1].id, f"batch:payout-batch-1:customer-{others[1].id}")],
                               at=MARCH + timedelta(days=60))
    db.session.commit()
    assert [b.transaction.id for b in mixed[:2]] == [b.transaction.id for b in batches]
    assert [r.id for r in mixed[2].rewards] == [first[2].id]
    assert db.session.get(Reward, later.id).status == "held"
    assert check_ledger() == []


def test_a_key_of_another_referrer_in_a_many_call_is_a_conflict_and_nothing_moves(referrer):
    other = factories.customer()
    factories.rewarded_sale(referrer)
    mine = factories.rewarded_sale(other)
    batch_payable(referrer.id, "usd", at=LATER, idempotency_key="batch:payout-item:70")
    db.session.commit()
    before = _counts()

    with pytest.raises(Conflict):  # among others, the key of referrer's batch named for another referrer
        batch_payable_many("usd", [(referrer.id, None), (other.id, "batch:payout-item:70")], at=LATER)
    db.session.rollback()
    with pytest.raises(Conflict):
        batch_payable_many("eur", [(referrer.id, "batch:payout-item:70")], at=LATER)
    db.session.rollback()
    with pytest.raises(ValueError):
        batch_payable_many("usd", [(other.id, None), (other.id, None)], at=LATER)
    db.session.rollback()

    assert _counts() == before
    assert db.session.get(Reward, mine.id).effective_status == "payable"


def test_a_referrer_lock_does_not_block_rows_that_reference_the_referrer(postgres, referrer):
    """FOR NO KEY UPDATE: a payout holding the referrer's lock must not stall their new referrals."""
    from rewards.customers.service import lock_referrer

    factories.rewarded_sale(referrer)
    referrer_id, done = referrer.id, threading.Event()
    lock_referrer(referrer_id)

    def add_referral():
        with postgres.app_context():
            factories.referral(db.session.get(type(referrer), referrer_id))
            db.session.remove()
            done.set()

    thread = threading.Thread(target=add_referral)
    thread.start()
    assert done.wait(10), "inserting a referral waited for the referrer's money lock"
    thread.join(10)
    db.session.rollback()
