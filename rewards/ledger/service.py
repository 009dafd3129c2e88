"""Posting balanced transactions and reading balances, which are always sums of entries."""
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from rewards.extensions import db
from rewards.ledger.models import ACCOUNT_KINDS, REFERRER_KINDS, Account, LedgerEntry, LedgerTransaction


class UnbalancedTransaction(ValueError):
    """A programming error: the legs handed to post() do not sum to zero per currency."""


@dataclass(frozen=True)
class Leg:
    account: Account
    amount: int
    reward_id: int | None = None


def account_key(kind: str, currency: str, customer_id: int | None = None) -> str:
    return f"{kind}:{currency}" + (f":{customer_id}" if customer_id is not None else "")


def get_account(kind: str, currency: str, customer_id: int | None = None) -> Account:
    """The account, created on first use; two workers creating it at once meet on the unique key."""
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"unknown account kind {kind!r}")
    if (kind in REFERRER_KINDS) != (customer_id is not None):
        raise ValueError(f"{kind} accounts {'need' if kind in REFERRER_KINDS else 'take no'} customer")
    key = account_key(kind, currency, customer_id)
    account = db.session.scalar(db.select(Account).filter_by(key=key))
    if account is not None:
        return account
    account = Account(key=key, kind=kind, currency=currency, customer_id=customer_id)
    try:
        with db.session.begin_nested():
            db.session.add(account)
    except IntegrityError:
        account = db.session.scalar(db.select(Account).filter_by(key=key))
    return account


def referrer_account(kind: str, customer_id: int, currency: str) -> Account:
    return get_account(kind, currency, customer_id)


def expense_account(currency: str) -> Account:
    return get_account("reward_expense", currency)


def check_balanced(legs: list[Leg]) -> None:
    """Raise UnbalancedTransaction unless the legs sum to zero in each currency."""
    totals = defaultdict(int)
    for leg in legs:
        totals[leg.account.currency] += leg.amount
    broken = {currency: total for currency, total in totals.items() if total}
    if broken:
        raise UnbalancedTransaction(f"legs do not sum to zero: {broken}")


def post(kind: str, legs: list[Leg], *, memo: str = "", customer_id: int | None = None,
         idempotency_key: str | None = None) -> LedgerTransaction | None:
    """Add one balanced transaction (not committed); zero legs are dropped, None when nothing is left.

    With an idempotency_key, posting the same key again returns the first transaction unchanged.
    """
    if idempotency_key is not None:
        existing = db.session.scalar(db.select(LedgerTransaction).filter_by(idempotency_key=idempotency_key))
        if existing is not None:
            return existing
    legs = [leg for leg in legs if leg.amount]
    check_balanced(legs)
    if not legs:
        return None
    transaction = LedgerTransaction(kind=kind, memo=memo, customer_id=customer_id, idempotency_key=idempotency_key)
    transaction.entries = [LedgerEntry(account=leg.account, currency=leg.account.currency, amount=leg.amount,
                                       reward_id=leg.reward_id) for leg in legs]
    db.session.add(transaction)
    db.session.flush()
    return transaction


def balance(account: Account) -> int:
    return db.session.scalar(
        db.select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.account_id == account.id))


def referrer_balances(customer_id: int) -> dict[str, dict[str, int]]:
    """{currency: {kind: balance}} of every ledger account the referrer has."""
    rows = db.session.execute(
        db.select(Account.currency, Account.kind, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .outerjoin(LedgerEntry, LedgerEntry.account_id == Account.id)
        .where(Account.customer_id == customer_id)
        .group_by(Account.currency, Account.kind))
    result: dict[str, dict[str, int]] = {}
    for currency, kind, total in rows:
        result.setdefault(currency, dict.fromkeys(REFERRER_KINDS, 0))[kind] = int(total)
    return result


def reward_entries_total(reward_id: int, kind: str) -> int:
    """The sum of the reward's tagged legs on accounts of `kind`."""
    return int(db.session.scalar(
        db.select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.reward_id == reward_id, Account.kind == kind)))
