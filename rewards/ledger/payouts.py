"""Ledger legs of paying rewards out, for the payouts feature: what is payable, batch, confirm paid, release,
transfer reversed.

    earned (+ debt netted) → payouts in transit → paid out;  a reversed transfer goes paid out → earned.

Payout batches and items themselves belong to the payouts package; these functions only move money and
the rewards' states, never commit, and each takes the referrer's lock (rewards.customers.service) first.
One *batch transaction* (kind `batch`) is one referrer's payout in one currency: the payouts package keeps
its id on its payout item. It is then settled once, by `confirm_paid` (kind `paid`) or undone once by
`release_batch` (kind `release`); both point back to it (`batch_transaction_id`, unique).

Functions (stable names and signatures; the payouts package builds on them):
- `payable_summary(customer_id, currency, at=None) -> Payable`: read-only; what a batch made now would move.
  `payable_summaries(currency, at=None, customer_ids=None)` gives the same for many referrers at once.
- `batch_payable(customer_id, currency, at=None, idempotency_key=None) -> Batched | None`;
  `batch_payable_many(currency, [(customer_id, idempotency_key)], at=None)` batches many referrers in a few
  statements (the same rule: batch_payable is batch_payable_many of one).
- `confirm_paid(batch_transaction_id, amount, reference=None, paid_at=None) -> LedgerTransaction`;
  `confirm_paid_many` settles many in a few statements (the same rule: confirm_paid is confirm_paid_many of one).
- `release_batch(batch_transaction_id) -> LedgerTransaction`
- `reverse_transfer(customer_id, currency, amount, idempotency_key, reversed_at=None) -> LedgerTransaction`
- `batch_of(batch_transaction_id) -> Batched`: a batch rebuilt from its stored transaction.

`paid_at` and `reversed_at` date what Stripe did by Stripe's `created` for it (the transaction's `effective_at`,
which every report counts by), however late Refero hears of it; without them the posting time stands.

Idempotency keys: one scheme for every payout move, `<operation>:<what it answers to>`, stored on the
ledger transaction (unique), so a retry after a crash, a timeout or a second worker finds the first answer:
- `batch_payable`: the caller names the unit it pays, e.g. `batch:payout-item:42`. A replay with the key
  returns the original `Batched`, rebuilt from the stored transaction, and changes nothing (rewards that
  matured since stay for a later batch); the key used for another referrer or currency is a Conflict.
  Without a key a retry finds nothing left to batch (None).
- `confirm_paid`: keyed by the batch it settles, `paid:batch:<batch transaction id>`, set here. A replay with
  the same amount returns the first transaction; another amount is a Conflict. A net of 0 (the debt took
  everything) is recorded too, as a `paid` transaction without legs, so its replay is the same answer.
- `release_batch`: `release:batch:<batch transaction id>`, set here; a replay returns the first release.
- `reverse_transfer`: the caller passes the outside event's id, e.g. `transfer_reversal:trr_123` (Stripe's
  reversal id); a replay returns the first transaction.
Earning, reducing, reversing and clawing back a reward take no key: the reward row, changed under the same
lock in the same database transaction, makes each of them happen once.
"""
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm.util import identity_key
from sqlalchemy.orm.attributes import set_committed_value

from rewards import audit
from rewards.bulk import among, chunks
from rewards.clock import utcnow
from rewards.customers.service import lock_referrer, lock_referrers
from rewards.errors import Conflict, InvalidInput, NotFound
from rewards.extensions import db
from rewards.ledger.balances import payable_condition
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction, Reward
from rewards.ledger.service import (AccountRef, Leg, NewTransaction, balance, post, post_many, referrer_account,
                                    transaction_by_key)

CHUNK = 5000


@dataclass
class Payable:
    """What a batch made now would move for one referrer in one currency (read-only).

    `gross` = the payable rewards' amounts + `from_reversed_transfers` (money a reversed transfer gave back,
    owed to no reward); `netted` = the part of the referrer's debt (`owed`) taken off; `net` = gross − netted,
    the transfer to send (never negative, maybe 0).
    """

    customer_id: int
    currency: str
    reward_ids: list[int] = field(default_factory=list)
    rewards_amount: int = 0
    from_reversed_transfers: int = 0
    owed: int = 0
    gross: int = 0
    netted: int = 0
    net: int = 0


@dataclass
class Batched:
    """What one referrer's batch carries: `net` = `gross` − `netted` debt is the transfer to send."""

    customer_id: int
    currency: str
    rewards: list[Reward] = field(default_factory=list)
    gross: int = 0
    netted: int = 0
    net: int = 0
    transaction: LedgerTransaction | None = None


def _by_referrer(query, customer_ids):
    """Rows of `query` (customer id first), for the given referrers only (in chunks) or for all."""
    if customer_ids is None:
        return db.session.execute(query).all()
    rows = []
    for chunk in chunks(sorted(customer_ids), CHUNK):
        rows += db.session.execute(query.where(among(query.selected_columns[0], chunk))).all()
    return rows


def _summaries(currency: str, at: datetime, customer_ids: list[int] | None) -> dict[int, Payable]:
    summaries: dict[int, Payable] = {}

    def summary(customer_id: int) -> Payable:
        return summaries.setdefault(customer_id, Payable(customer_id, currency))

    for customer_id, reward_id, amount in _by_referrer(
            select(Reward.referrer_id, Reward.id, Reward.amount)
            .where(Reward.currency == currency, payable_condition(at)).order_by(Reward.id), customer_ids):
        payable = summary(customer_id)
        payable.reward_ids.append(reward_id)
        payable.rewards_amount += amount
    # Earned money tagged with no reward (a reversed transfer's, net of batches that took it) and the debt.
    for customer_id, kind, total in _by_referrer(
            select(Account.customer_id, Account.kind, func.sum(LedgerEntry.amount))
            .join(LedgerEntry, LedgerEntry.account_id == Account.id)
            .where(Account.currency == currency, Account.kind.in_(("referrer_earned", "referrer_debt")),
                   (Account.kind == "referrer_debt") | LedgerEntry.reward_id.is_(None))
            .group_by(Account.customer_id, Account.kind), customer_ids):
        if kind == "referrer_earned":
            summary(customer_id).from_reversed_transfers = max(int(total), 0)
        else:
            summary(customer_id).owed = max(-int(total), 0)
    for payable in summaries.values():
        payable.gross = payable.rewards_amount + payable.from_reversed_transfers
        payable.netted = min(payable.owed, payable.gross)
        payable.net = payable.gross - payable.netted
    return summaries


def payable_summaries(currency: str, at: datetime | None = None,
                      customer_ids: list[int] | None = None) -> dict[int, Payable]:
    """{customer_id: Payable} of the referrers (all, or those given) with anything payable in `currency`.

    Read-only; ordered by customer id; a referrer whose gross is 0 is left out.
    """
    summaries = _summaries(currency, at or utcnow(), customer_ids)
    return {customer_id: payable for customer_id, payable in sorted(summaries.items()) if payable.gross > 0}


def payable_summary(customer_id: int, currency: str, at: datetime | None = None) -> Payable:
    """What batch_payable() would move for the referrer now (or at `at`): gross, debt netted, net. Read-only."""
    return _summaries(currency, at or utcnow(), [customer_id]).get(customer_id) or Payable(customer_id, currency)


def _rewards(reward_ids) -> list[Reward]:
    """The rewards, fresh from the database (in chunks), in id order."""
    rewards = []
    for chunk in chunks(sorted(set(reward_ids)), CHUNK):
        rewards += db.session.scalars(select(Reward).where(among(Reward.id, chunk))
                                      .execution_options(populate_existing=True))
    return sorted(rewards, key=lambda reward: reward.id)


def _legs(transaction: LedgerTransaction) -> list[tuple[str, int, int | None, Account]]:
    """(account kind, amount, reward id, account) of each leg, in the order posted."""
    return [(account.kind, entry.amount, entry.reward_id, account) for entry, account in db.session.execute(
        select(LedgerEntry, Account).join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.transaction_id == transaction.id).order_by(LedgerEntry.id))]


def _batch_transaction(batch_transaction_id: int) -> LedgerTransaction:
    transaction = db.session.get(LedgerTransaction, batch_transaction_id)
    if transaction is None or transaction.kind != "batch":
        raise NotFound(f"No payout batch transaction {batch_transaction_id} in the ledger.")
    return transaction


def _legs_of(transaction_ids) -> dict[int, list[tuple[str, int, int | None, str]]]:
    """{transaction id: [(account kind, amount, reward id, currency), …]} of stored transactions, each one's legs in
    the order posted: a statement per chunk of transactions."""
    legs: dict[int, list] = {transaction_id: [] for transaction_id in transaction_ids}
    for chunk in chunks(sorted(legs), CHUNK):
        for transaction_id, kind, amount, reward_id, currency in db.session.execute(
                select(LedgerEntry.transaction_id, Account.kind, LedgerEntry.amount, LedgerEntry.reward_id,
                       Account.currency).join(Account, Account.id == LedgerEntry.account_id)
                .where(among(LedgerEntry.transaction_id, chunk)).order_by(LedgerEntry.id)):
            legs[transaction_id].append((kind, amount, reward_id, currency))
    return legs


def _batches_of(transactions: list[LedgerTransaction]) -> dict[int, Batched]:
    """{transaction id: Batched} rebuilt from stored `batch` transactions, a few statements for the lot."""
    legs = _legs_of(transaction.id for transaction in transactions)
    rewards = {reward.id: reward for reward in _rewards(
        reward_id for rows in legs.values() for kind, _, reward_id, _ in rows if kind == "referrer_earned" and reward_id)}
    batches = {}
    for transaction in transactions:
        rows = legs[transaction.id]
        batches[transaction.id] = Batched(
            transaction.customer_id, rows[0][3],
            [rewards[r] for r in sorted({r for kind, _, r, _ in rows if kind == "referrer_earned" and r})],
            -sum(amount for kind, amount, _, _ in rows if kind == "referrer_earned"),
            sum(amount for kind, amount, _, _ in rows if kind == "referrer_debt"),
            sum(amount for kind, amount, _, _ in rows if kind == "payouts_in_transit"), transaction)
    return batches


def batch_of(batch_transaction_id: int) -> Batched:
    """The Batched that batch_payable() returned, rebuilt from its stored `batch` transaction."""
    transaction = _batch_transaction(batch_transaction_id)
    return _batches_of([transaction])[transaction.id]


def batch_payable(customer_id: int, currency: str, at: datetime | None = None,
                  idempotency_key: str | None = None) -> Batched | None:
    """Move the referrer's payable money into transit (not committed), netting their debt; None if nothing is payable.

    Payable: rewards worth more than 0 whose hold ended by `at` (default now) and that are in no batch, plus
    money from reversed transfers. The rewards become `batched`; the transfer to send is the result's `net`
    (never negative, maybe 0). A replay of `idempotency_key` returns the original result and changes nothing.
    It is batch_payable_many() of one referrer.
    """
    return batch_payable_many(currency, [(customer_id, idempotency_key)], at)[0]


def batch_payable_many(currency: str, referrers: list[tuple[int, str | None]],
                       at: datetime | None = None) -> list[Batched | None]:
    """batch_payable() for many (customer id, idempotency key or None) of one currency, in a few statements for the
    lot (a payout batch is drafted so): a Batched or None for each, in order. Not committed.

    The same rule for each: the referrers are locked (in id order), a replayed key answers its original batch and
    moves nothing (a key of another referrer, currency or kind is a Conflict), the others' payable money (as
    payable_summaries() reads it) goes into transit through post_many, their rewards become `batched`.
    """
    customer_ids = [customer_id for customer_id, _ in referrers]
    keys = [key for _, key in referrers if key is not None]
    if len(set(customer_ids)) != len(customer_ids) or len(set(keys)) != len(keys):
        raise ValueError("a referrer or a key is batched twice in one call")
    lock_referrers(customer_ids)
    replayed: dict[int, Batched] = {}
    if keys:
        existing = {}
        for chunk in chunks(keys, CHUNK):
            existing.update((t.idempotency_key, t) for t in db.session.scalars(
                select(LedgerTransaction).where(among(LedgerTransaction.idempotency_key, chunk))))
        batches = _batches_of([t for t in existing.values() if t.kind == "batch"])
        for customer_id, key in referrers:
            if key in existing:
                batched = batches.get(existing[key].id)
                if batched is None or (batched.customer_id, batched.currency) != (customer_id, currency):
                    raise Conflict(f"The key {key!r} was used for another ledger transaction.")
                replayed[customer_id] = batched
    todo = [(customer_id, key) for customer_id, key in referrers if customer_id not in replayed]
    summaries = _summaries(currency, at or utcnow(), [customer_id for customer_id, _ in todo]) if todo else {}
    moving = [(summaries[customer_id], key) for customer_id, key in todo
              if customer_id in summaries and summaries[customer_id].gross > 0]
    rewards = {reward.id: reward for reward in _rewards(r for payable, _ in moving for r in payable.reward_ids)}
    transactions = []
    for payable, key in moving:
        earned = AccountRef("referrer_earned", currency, payable.customer_id)
        legs = [Leg(earned, -rewards[r].amount, r) for r in payable.reward_ids]
        legs += [Leg(earned, -payable.from_reversed_transfers),
                 Leg(AccountRef("referrer_debt", currency, payable.customer_id), payable.netted),
                 Leg(AccountRef("payouts_in_transit", currency, payable.customer_id), payable.net)]
        transactions.append(NewTransaction(
            "batch", legs, memo=f"payout batch: {len(payable.reward_ids)} rewards, net {payable.net}",
            customer_id=payable.customer_id, idempotency_key=key))
    transaction_ids = post_many(transactions)
    posted = {}
    for chunk in chunks(transaction_ids, CHUNK):
        posted.update((t.id, t) for t in db.session.scalars(select(LedgerTransaction).where(
            among(LedgerTransaction.id, chunk))))
    answers: dict[int, Batched] = dict(replayed)
    for (payable, _), transaction_id in zip(moving, transaction_ids):
        answers[payable.customer_id] = Batched(payable.customer_id, currency, [rewards[r] for r in payable.reward_ids],
                                               payable.gross, payable.netted, payable.net, posted[transaction_id])
    _mark_rewards([(reward_id, rewards[reward_id].amount, transaction_id)
                   for (payable, _), transaction_id in zip(moving, transaction_ids) for reward_id in payable.reward_ids],
                  "batched")
    return [answers.get(customer_id) for customer_id in customer_ids]


def _settlement(batch: LedgerTransaction) -> LedgerTransaction | None:
    return db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.batch_transaction_id == batch.id))


def confirm_paid(batch_transaction_id: int, amount: int, reference: str | None = None,
                 paid_at: datetime | None = None) -> LedgerTransaction:
    """The transfer of the batch's net arrived (not committed): in transit → paid out; its rewards become `paid`.

    `amount` must equal the batch's net (409 otherwise); `reference` (a transfer id, a bank reference) goes in
    the memo; `paid_at` (Stripe's `created` of the transfer) dates it, else now. Replaying it returns the first
    `paid` transaction; a released batch cannot be paid (409).
    """
    [transaction_id] = confirm_paid_many([(batch_transaction_id, amount, reference, paid_at)])
    return db.session.get(LedgerTransaction, transaction_id)


def confirm_paid_many(settlements: list[tuple[int, int, str | None, datetime | None]]) -> list[int]:
    """confirm_paid() for many (batch transaction id, amount, reference, paid_at) at once, in a few statements for
    the lot (the payout executor settles its transfers so): the `paid` transactions' ids, in order. Not committed.

    The same rule for each as confirm_paid: the amount is the batch's net, its rewards are still batched, a
    replay answers the first `paid` transaction, a released batch cannot be paid (409 raised, nothing posted).
    """
    ids = [batch_id for batch_id, _, _, _ in settlements]
    if len(set(ids)) != len(ids):
        raise ValueError("a batch transaction is confirmed twice in one call")
    if not ids:
        return []
    customers = dict(db.session.execute(select(LedgerTransaction.id, LedgerTransaction.customer_id).where(
        among(LedgerTransaction.id, ids), LedgerTransaction.kind == "batch")).all())
    missing = [batch_id for batch_id in ids if batch_id not in customers]
    if missing:
        raise NotFound(f"No payout batch transaction {missing[0]} in the ledger.")
    lock_referrers(set(customers.values()))
    settled = {batch_id: (transaction_id, kind) for batch_id, transaction_id, kind in db.session.execute(
        select(LedgerTransaction.batch_transaction_id, LedgerTransaction.id, LedgerTransaction.kind)
        .where(among(LedgerTransaction.batch_transaction_id, ids)))}
    legs = _legs_of(ids + [t for t, _ in settled.values()])
    rewards: dict[int, tuple[str, int]] = {}  # {reward id: (status, amount)} as stored
    for chunk in chunks(sorted({r for batch_id in ids for _, _, r, _ in legs[batch_id] if r is not None}), CHUNK):
        rewards.update((reward_id, (status, amount)) for reward_id, status, amount in db.session.execute(
            select(Reward.id, Reward.status, Reward.amount).where(among(Reward.id, chunk))))
    answers, todo, paying = {}, [], []
    for batch_id, amount, reference, paid_at in settlements:
        customer_id, done = customers[batch_id], settled.get(batch_id)
        if done is not None:
            if done[1] != "paid":
                raise Conflict(f"Batch transaction {batch_id} was released; it cannot be paid.")
            paid = sum(a for kind, a, _, _ in legs[done[0]] if kind == "paid_out")
            if paid != amount:
                raise Conflict(f"Batch transaction {batch_id} was confirmed paid with {paid}, not {amount}.")
            answers[batch_id] = done[0]
            continue
        net = sum(a for kind, a, _, _ in legs[batch_id] if kind == "payouts_in_transit")
        currency = legs[batch_id][0][3]
        if amount != net:
            raise Conflict(f"Batch transaction {batch_id} sent {net} {currency} to customer {customer_id}, "
                           f"not {amount}.")
        mine = [r for kind, _, r, _ in legs[batch_id] if kind == "referrer_earned" and r]
        for reward_id in mine:
            if rewards[reward_id][0] != "batched":
                raise Conflict(f"Reward {reward_id} of batch transaction {batch_id} is {rewards[reward_id][0]}, "
                               "not batched.")
        todo.append(NewTransaction(
            "paid", [Leg(AccountRef("payouts_in_transit", currency, customer_id), -amount),
                     Leg(AccountRef("paid_out", currency, customer_id), amount)],
            memo=f"payout of {amount} confirmed" + (f" ({reference})" if reference else ""),
            customer_id=customer_id, idempotency_key=f"paid:batch:{batch_id}", batch_transaction_id=batch_id,
            keep_empty=True, effective_at=paid_at))
        paying.append((batch_id, mine))
    for (batch_id, _), transaction_id in zip(paying, post_many(todo)):
        answers[batch_id] = transaction_id
    _mark_rewards([(reward_id, rewards[reward_id][1], batch_id) for batch_id, mine in paying for reward_id in mine],
                  "paid")
    return [answers[batch_id] for batch_id in ids]


def _mark_rewards(rewards: list[tuple[int, int, int]], status: str) -> None:
    """Rewards (id, amount, batch transaction id) become `batched` or `paid`: one UPDATE per chunk, the rows this
    session holds see it, one audit event each (`reward.<status>`)."""
    ids = [reward_id for reward_id, _, _ in rewards]
    for chunk in chunks(ids, CHUNK):
        db.session.execute(update(Reward).where(among(Reward.id, chunk)).values(status=status)
                           .execution_options(synchronize_session=False))
    for reward_id in ids:
        held = db.session.identity_map.get(identity_key(Reward, reward_id))
        if held is not None:
            set_committed_value(held, "status", status)
    audit.record_many([(f"reward.{status}", Reward.__tablename__, reward_id,
                        {"amount": amount, "batch_transaction_id": batch_id}) for reward_id, amount, batch_id in rewards])


def release_batch(batch_transaction_id: int) -> LedgerTransaction:
    """Undo a batch that will not be paid (a cancelled draft), exactly (not committed): its rewards are payable again.

    Every leg of the batch is posted back, so earned, debt and in transit are as before the batch. A reward
    clawed back while it sat in the batch is then an unpaid reward made smaller: its clawback becomes a
    reduction (reversed when nothing is left), as a refund before payout would have been.
    Replaying it returns the first release; a paid batch cannot be released (409).
    """
    batch = _batch_transaction(batch_transaction_id)
    lock_referrer(batch.customer_id)
    settled = _settlement(batch)
    if settled is not None:
        if settled.kind != "release":
            raise Conflict(f"Batch transaction {batch.id} was paid; it cannot be released.")
        return settled
    posted = _legs(batch)
    legs = [Leg(account, -amount, reward_id) for _, amount, reward_id, account in posted]
    rewards = _rewards(reward_id for kind, _, reward_id, _ in posted if kind == "referrer_earned" and reward_id)
    for reward in rewards:
        if reward.status != "batched":
            raise Conflict(f"Reward {reward.id} of batch transaction {batch.id} is {reward.status}, not batched.")
        if reward.clawback_amount:
            legs += [Leg(AccountRef("referrer_earned", reward.currency, reward.referrer_id), -reward.clawback_amount,
                         reward.id),
                     Leg(AccountRef("referrer_debt", reward.currency, reward.referrer_id), reward.clawback_amount,
                         reward.id)]
    transaction = post("release", legs, memo=f"payout batch transaction {batch.id} released",
                       customer_id=batch.customer_id, idempotency_key=f"release:batch:{batch.id}",
                       batch_transaction_id=batch.id)
    for reward in rewards:
        if reward.clawback_amount:
            if reward.clawback_amount == reward.amount:
                reward.status, reward.reversed_reason = "reversed", "The sale was refunded."
            else:
                reward.amount -= reward.clawback_amount
                reward.status = "held"
            reward.clawback_amount = 0
        else:
            reward.status = "held"  # its hold is over, so it is payable again
        audit.record("reward.released", reward, {"amount": reward.amount, "batch_transaction_id": batch.id,
                                                 "status": reward.status})
    db.session.flush()
    return transaction


def reverse_transfer(customer_id: int, currency: str, amount: int, idempotency_key: str,
                     reversed_at: datetime | None = None) -> LedgerTransaction:
    """A paid transfer was taken back (not committed): paid out → the referrer's earned balance, paid again later.
    `reversed_at` (Stripe's `created` of the reversal) dates it, else now."""
    lock_referrer(customer_id)
    existing = transaction_by_key(idempotency_key)
    if existing is not None:
        if existing.kind != "transfer_reversal" or existing.customer_id != customer_id:
            raise Conflict(f"The key {idempotency_key!r} was used for another ledger transaction.")
        return existing
    paid_out = referrer_account("paid_out", customer_id, currency)
    if amount <= 0 or amount > balance(paid_out):
        raise InvalidInput(f"Only money paid out can be reversed: {amount} exceeds what customer "
                           f"{customer_id} was paid in {currency}.", "amount")
    transaction = post("transfer_reversal", [Leg(paid_out, -amount),
                                             Leg(AccountRef("referrer_earned", currency, customer_id), amount)],
                       memo=f"transfer of {amount} reversed", customer_id=customer_id, idempotency_key=idempotency_key,
                       effective_at=reversed_at)
    audit.record("payout.transfer_reversed", transaction, {"amount": amount, "currency": currency,
                                                            "customer_id": customer_id})
    return transaction
