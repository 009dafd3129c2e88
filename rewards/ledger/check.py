"""`ledger check`: every invariant of the ledger and the rewards it carries, each failure named.

Packages above the ledger add the invariants of their own rules with `register_check` (the programs
package adds its caps), so `ledger check` proves them all without the ledger importing them.
"""
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import case, func

from rewards.bulk import among, chunks
from rewards.extensions import db
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction, Reward

# Sign each referrer account's balance must keep: earned and money on its way or paid are ≥ 0, debt ≤ 0.
SIGNS = {"referrer_earned": 1, "payouts_in_transit": 1, "paid_out": 1, "referrer_debt": -1}


def unbalanced_transactions() -> list[str]:
    rows = db.session.execute(
        db.select(LedgerEntry.transaction_id, LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.transaction_id, LedgerEntry.currency)
        .having(func.sum(LedgerEntry.amount) != 0).order_by(LedgerEntry.transaction_id))
    return [f"transaction {tx} does not balance in {currency}: its legs sum to {total}" for tx, currency, total in rows]


def malformed_transactions() -> list[str]:
    problems = [f"transaction {tx} has a zero leg (entry {entry})" for entry, tx in db.session.execute(
        db.select(LedgerEntry.id, LedgerEntry.transaction_id).where(LedgerEntry.amount == 0))]
    problems += [f"transaction {tx} has entry {entry} in {cur}, but its account {key} is in another currency"
                 for entry, tx, cur, key in db.session.execute(
                     db.select(LedgerEntry.id, LedgerEntry.transaction_id, LedgerEntry.currency, Account.key)
                     .join(Account, Account.id == LedgerEntry.account_id)
                     .where(Account.currency != LedgerEntry.currency))]
    legs = func.count(LedgerEntry.id)
    # The one legless transaction allowed: a batch of net 0 (its referrer's debt took it all) confirmed paid.
    zero_settlement = (LedgerTransaction.kind == "paid") & LedgerTransaction.batch_transaction_id.is_not(None)
    problems += [f"transaction {tx} has {n} leg(s); a transaction needs at least two"
                 for tx, n, zero_paid in db.session.execute(
                     db.select(LedgerTransaction.id, legs, zero_settlement).outerjoin(LedgerEntry)
                     .group_by(LedgerTransaction.id).having(legs < 2)) if not (zero_paid and n == 0)]
    return problems


def _tagged(kind: str):
    return func.coalesce(func.sum(case((Account.kind == kind, LedgerEntry.amount), else_=0)), 0)


def reward_mismatches() -> list[str]:
    """Each reward's tagged legs agree with its state: expense = −value, earned while unpaid, debt = clawback."""
    value = Reward.value
    unpaid = case((Reward.status.in_(("held", "payable")), Reward.amount), else_=0)
    rows = db.session.execute(
        db.select(Reward.id, Reward.status, value, unpaid, -Reward.clawback_amount, _tagged("reward_expense"),
                  _tagged("referrer_earned"), _tagged("referrer_debt"))
        .outerjoin(LedgerEntry, LedgerEntry.reward_id == Reward.id)
        .outerjoin(Account, Account.id == LedgerEntry.account_id)
        .group_by(Reward.id, Reward.status, Reward.amount, Reward.clawback_amount)
        .having((_tagged("reward_expense") != -value) | (_tagged("referrer_earned") != unpaid)
                | (_tagged("referrer_debt") != -Reward.clawback_amount))
        .order_by(Reward.id))
    return [f"reward {rid} ({status}) disagrees with the ledger: expected expense {-v}, earned {u}, debt {d}; "
            f"entries give {e}, {earned}, {debt}" for rid, status, v, u, d, e, earned, debt in rows]


def referrer_mismatches() -> list[str]:
    """Signs of referrer balances, and earned − reversed − paid = what the referrer's accounts hold."""
    problems = []
    held = defaultdict(int)
    for key, kind, customer_id, currency, total in db.session.execute(
            db.select(Account.key, Account.kind, Account.customer_id, Account.currency,
                      func.coalesce(func.sum(LedgerEntry.amount), 0))
            .outerjoin(LedgerEntry).where(Account.customer_id.is_not(None))
            .group_by(Account.id, Account.key, Account.kind, Account.customer_id, Account.currency)):
        if total * SIGNS[kind] < 0:
            problems.append(f"account {key} has balance {total}, which the rules forbid")
        held[(customer_id, currency)] += int(total)
    kept = Reward.value
    values = {(c, cur): int(v) for c, cur, v in db.session.execute(
        db.select(Reward.referrer_id, Reward.currency, func.sum(kept)).group_by(Reward.referrer_id, Reward.currency))}
    for key in sorted(set(held) | set(values)):
        if held.get(key, 0) != values.get(key, 0):
            problems.append(f"customer {key[0]} in {key[1]}: earned − reversed is {values.get(key, 0)}, but their "
                            f"accounts (earned, debt, in transit, paid out) hold {held.get(key, 0)}")
    return problems


def _batch_legs() -> dict[int, dict]:
    """{batch transaction id: {customer, legs: [(kind, account customer, amount, reward id)]}}."""
    batches: dict[int, dict] = {}
    for tx, customer_id, kind, owner, currency, amount, reward_id in db.session.execute(
            db.select(LedgerTransaction.id, LedgerTransaction.customer_id, Account.kind, Account.customer_id,
                      Account.currency, LedgerEntry.amount, LedgerEntry.reward_id)
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .join(Account, Account.id == LedgerEntry.account_id)
            .where(LedgerTransaction.kind == "batch").order_by(LedgerTransaction.id, LedgerEntry.id)
            .execution_options(yield_per=5000)):
        batch = batches.setdefault(tx, {"customer_id": customer_id, "currency": currency, "legs": []})
        batch["legs"].append((kind, owner, amount, reward_id))
    return batches


def _transit(batch: dict) -> int:
    return sum(amount for kind, _, amount, _ in batch["legs"] if kind == "payouts_in_transit")


def _settlements() -> dict[int, list[tuple]]:
    """{batch transaction id: [(settling transaction id, kind, paid out, in transit)]}; also key None: unlinked."""
    settlements: dict = defaultdict(list)
    rows = db.session.execute(
        db.select(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.batch_transaction_id,
                  func.coalesce(func.sum(case((Account.kind == "paid_out", LedgerEntry.amount), else_=0)), 0),
                  func.coalesce(func.sum(case((Account.kind == "payouts_in_transit", LedgerEntry.amount),
                                              else_=0)), 0))
        .outerjoin(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .outerjoin(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerTransaction.kind.in_(("paid", "release")) | LedgerTransaction.batch_transaction_id.is_not(None))
        .group_by(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.batch_transaction_id)
        .order_by(LedgerTransaction.id))
    for tx, kind, batch_id, paid_out, transit in rows:
        settlements[batch_id].append((tx, kind, int(paid_out), int(transit)))
    return settlements


def batch_mismatches() -> list[str]:
    """Each batch moves only its referrer's money: earned (rewards, a reversed transfer's) and debt netted in,
    its net (gross − netted, never negative) into transit."""
    problems = []
    for tx, batch in _batch_legs().items():
        legs, customer_id = batch["legs"], batch["customer_id"]
        if any(owner != customer_id or kind not in ("referrer_earned", "referrer_debt", "payouts_in_transit")
               for kind, owner, _, _ in legs):
            problems.append(f"batch transaction {tx} moves money of accounts other than customer {customer_id}'s "
                            f"earned, debt and in-transit ones")
            continue
        gross = -sum(amount for kind, _, amount, _ in legs if kind == "referrer_earned")
        netted = sum(amount for kind, _, amount, _ in legs if kind == "referrer_debt")
        if any(amount > 0 for kind, _, amount, _ in legs if kind == "referrer_earned") or netted < 0 \
                or _transit(batch) != gross - netted or _transit(batch) < 0:
            problems.append(f"batch transaction {tx}: gross {gross} less {netted} debt netted is {gross - netted}, "
                            f"but it moved {_transit(batch)} into transit")
    return problems


def settlement_mismatches() -> list[str]:
    """A settled batch has exactly one `paid` (or one `release`) transaction, which moves exactly its net."""
    problems = []
    batches, settlements = _batch_legs(), _settlements()
    for tx, kind, _, _ in settlements.pop(None, []):
        problems.append(f"{kind} transaction {tx} settles no payout batch")
    for batch_id, settling in sorted(settlements.items()):
        batch = batches.get(batch_id)
        if batch is None:
            problems.append(f"transaction(s) {', '.join(str(s[0]) for s in settling)} settle {batch_id}, "
                            f"which is no batch transaction")
            continue
        if len(settling) > 1:
            problems.append(f"batch transaction {batch_id} is settled {len(settling)} times "
                            f"(transactions {', '.join(str(s[0]) for s in settling)})")
        net = _transit(batch)
        for tx, kind, paid_out, transit in settling:
            if kind == "paid" and (paid_out != net or transit != -net):
                problems.append(f"paid transaction {tx} moves {paid_out} to paid out, but its batch transaction "
                                f"{batch_id} sent {net}")
            if kind == "release" and transit != -net:
                problems.append(f"release transaction {tx} takes {-transit} out of transit, but its batch "
                                f"transaction {batch_id} put {net} in")
            if kind not in ("paid", "release"):
                problems.append(f"{kind} transaction {tx} points at batch transaction {batch_id}")
    return problems


def in_transit_mismatches() -> list[str]:
    """Per referrer and currency: the nets of the batches not yet settled add up to the in-transit balance."""
    batches, settlements = _batch_legs(), _settlements()
    unsettled = defaultdict(int)
    for tx, batch in batches.items():
        if tx not in settlements:
            unsettled[(batch["customer_id"], batch["currency"])] += _transit(batch)
    balances = {(customer_id, currency): int(total) for customer_id, currency, total in db.session.execute(
        db.select(Account.customer_id, Account.currency, func.sum(LedgerEntry.amount))
        .join(LedgerEntry, LedgerEntry.account_id == Account.id).where(Account.kind == "payouts_in_transit")
        .group_by(Account.customer_id, Account.currency))}
    return [f"customer {key[0]} in {key[1]}: the unsettled batches sent {unsettled.get(key, 0)}, but "
            f"{balances.get(key, 0)} is in transit" for key in sorted(set(unsettled) | set(balances))
            if unsettled.get(key, 0) != balances.get(key, 0)]


def batched_reward_mismatches() -> list[str]:
    """A batched reward is in exactly one unsettled batch, a paid one in exactly one paid batch; any other reward
    in none that stands (released batches let their rewards go)."""
    settlements = _settlements()
    settled_kind = {batch_id: rows[0][1] for batch_id, rows in settlements.items() if batch_id is not None}
    standing = defaultdict(list)
    for tx, batch in _batch_legs().items():
        if settled_kind.get(tx) == "release":
            continue
        for kind, _, amount, reward_id in batch["legs"]:
            if kind == "referrer_earned" and reward_id is not None and amount < 0:
                standing[reward_id].append(tx)
    problems = []
    expected = {"batched": None, "paid": "paid"}
    statuses = dict(db.session.execute(db.select(Reward.id, Reward.status)
                                       .where(Reward.status.in_(("batched", "paid")))).all())
    for chunk in chunks([reward_id for reward_id in standing if reward_id not in statuses], 5000):
        statuses.update(db.session.execute(db.select(Reward.id, Reward.status).where(among(Reward.id, chunk))).all())
    for reward_id, status in sorted(statuses.items()):
        batches = standing.get(reward_id, [])
        if status not in expected:
            if batches:
                problems.append(f"reward {reward_id} is {status} but sits in batch transaction(s) "
                                f"{', '.join(map(str, batches))}")
        elif len(batches) != 1:
            problems.append(f"reward {reward_id} is {status} and belongs to {len(batches)} batches, not exactly one")
        elif settled_kind.get(batches[0]) != expected[status]:
            problems.append(f"reward {reward_id} is {status}, but its batch transaction {batches[0]} is "
                            f"{'settled' if settled_kind.get(batches[0]) else 'not settled'}")
    return problems


_registered: list[Callable[[], list[str]]] = []


def register_check(check: Callable[[], list[str]]) -> Callable[[], list[str]]:
    """Add an invariant of a package above the ledger to `ledger check` (usable as a decorator)."""
    if check not in _registered:
        _registered.append(check)
    return check


def check_ledger() -> list[str]:
    """Every broken invariant, one sentence each naming the transaction, reward or account; empty when sound."""
    problems = (unbalanced_transactions() + malformed_transactions() + reward_mismatches()
                + referrer_mismatches() + batch_mismatches() + settlement_mismatches() + in_transit_mismatches()
                + batched_reward_mismatches())
    for check in _registered:
        problems += check()
    return problems
