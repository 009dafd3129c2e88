"""`ledger check`: every invariant of the ledger and the rewards it carries, each failure named."""
from collections import defaultdict

from sqlalchemy import case, func

from rewards.extensions import db
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction
from rewards.programs.models import Program, Reward
from rewards.programs.rules import year_bounds
from rewards.sales.models import Sale

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
    problems += [f"transaction {tx} has {n} leg(s); a transaction needs at least two" for tx, n in db.session.execute(
        db.select(LedgerTransaction.id, legs).outerjoin(LedgerEntry).group_by(LedgerTransaction.id).having(legs < 2))]
    return problems


def _tagged(kind: str):
    return func.coalesce(func.sum(case((Account.kind == kind, LedgerEntry.amount), else_=0)), 0)


def reward_mismatches() -> list[str]:
    """Each reward's tagged legs agree with its state: expense = −value, earned while unpaid, debt = clawback."""
    value = case((Reward.status == "reversed", 0), else_=Reward.amount - Reward.clawback_amount)
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
    kept = case((Reward.status == "reversed", 0), else_=Reward.amount - Reward.clawback_amount)
    values = {(c, cur): int(v) for c, cur, v in db.session.execute(
        db.select(Reward.referrer_id, Reward.currency, func.sum(kept)).group_by(Reward.referrer_id, Reward.currency))}
    for key in sorted(set(held) | set(values)):
        if held.get(key, 0) != values.get(key, 0):
            problems.append(f"customer {key[0]} in {key[1]}: earned − reversed is {values.get(key, 0)}, but their "
                            f"accounts (earned, debt, in transit, paid out) hold {held.get(key, 0)}")
    return problems


def cap_violations() -> list[str]:
    """No reward above its program's per-referral maximum; no referrer's year above the yearly cap in force."""
    problems = []
    running = defaultdict(int)
    rows = db.session.execute(
        db.select(Reward, Program.max_reward_amount, Program.yearly_cap_amount, Sale.occurred_at)
        .join(Program, Program.id == Reward.program_id).join(Sale, Sale.id == Reward.sale_id)
        .order_by(Reward.id).execution_options(yield_per=1000))
    for reward, max_reward, yearly_cap, occurred_at in rows:
        if max_reward is not None and reward.granted_amount > max_reward:
            problems.append(f"reward {reward.id} of {reward.granted_amount} exceeds its program's maximum {max_reward}")
        year_key = (reward.referrer_id, reward.currency, year_bounds(occurred_at)[0].year)
        running[year_key] += reward.value
        # A reward granted at the cap is 0; only a positive one must fit under the cap in force.
        if yearly_cap is not None and reward.value > 0 and running[year_key] > yearly_cap:
            problems.append(f"reward {reward.id} takes customer {reward.referrer_id} to {running[year_key]} in "
                            f"{year_key[2]}, above the yearly cap {yearly_cap}")
    return problems


def check_ledger() -> list[str]:
    """Every broken invariant, one sentence each naming the transaction, reward or account; empty when sound."""
    return (unbalanced_transactions() + malformed_transactions() + reward_mismatches()
            + referrer_mismatches() + cap_violations())
