"""Posting balanced transactions and reading balances, which are always sums of entries.

Every ledger row is written here, by `post_many` (`post` is `post_many` of one transaction): each
transaction's legs are checked to sum to zero per currency before anything is written, zero legs are
dropped, accounts named by their parts are created on first use, and the rows go out in bulk (COPY on
PostgreSQL, see rewards.bulk), where the database checks the balance once more at commit.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from rewards.bulk import Prebuilt, among_param, chunks, insert_rows
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.ledger.models import ACCOUNT_KINDS, REFERRER_KINDS, Account, LedgerEntry, LedgerTransaction

CHUNK = 5000


class UnbalancedTransaction(ValueError):
    """A programming error: the legs handed to post() do not sum to zero per currency."""


def account_key(kind: str, currency: str, customer_id: int | None = None) -> str:
    return f"{kind}:{currency}" + (f":{customer_id}" if customer_id is not None else "")


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account named by its parts; post_many() finds or creates it (many at once on the bulk path)."""

    kind: str
    currency: str
    customer_id: int | None = None

    @property
    def key(self) -> str:
        return account_key(self.kind, self.currency, self.customer_id)


@dataclass(frozen=True, slots=True)
class Leg:
    """One signed amount on an account (an Account row or an AccountRef), tagged with its reward if any."""

    account: Account | AccountRef
    amount: int
    reward_id: int | None = None


@dataclass(slots=True)
class NewTransaction:
    """A transaction to post: its legs must sum to zero per currency (zero legs are dropped)."""

    kind: str
    legs: list[Leg]
    memo: str = ""
    customer_id: int | None = None
    idempotency_key: str | None = None
    batch_transaction_id: int | None = None
    # Record it even when no leg is left (a settlement of nothing still settles its batch).
    keep_empty: bool = False
    # When it happened, if not now: Stripe's `created` for what Stripe did (LedgerTransaction.effective_at).
    effective_at: datetime | None = None
    _kept: list[Leg] = field(default_factory=list, repr=False)


def _check_kind(kind: str, customer_id: int | None) -> None:
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"unknown account kind {kind!r}")
    if (kind in REFERRER_KINDS) != (customer_id is not None):
        raise ValueError(f"{kind} accounts {'need' if kind in REFERRER_KINDS else 'take no'} customer")


def get_account(kind: str, currency: str, customer_id: int | None = None) -> Account:
    """The account, created on first use; two workers creating it at once meet on the unique key."""
    _check_kind(kind, customer_id)
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


@Prebuilt
def _accounts_statement():
    return select(Account.key, Account.id).where(among_param(Account.key, "keys"))


def account_ids(refs) -> dict[str, int]:
    """{key: account id} for AccountRefs, creating the missing accounts in one statement."""
    wanted = {ref.key: ref for ref in refs}
    found: dict[str, int] = {}
    for chunk in chunks(list(wanted), CHUNK):
        found.update(db.session.execute(_accounts_statement(), {"keys": chunk}).all())
    missing = [wanted[key] for key in wanted if key not in found]
    if missing:
        for ref in missing:
            _check_kind(ref.kind, ref.customer_id)
        now = utcnow()
        try:
            with db.session.begin_nested():
                found.update(zip((ref.key for ref in missing), insert_rows(Account.__table__, [
                    {"key": ref.key, "kind": ref.kind, "currency": ref.currency, "customer_id": ref.customer_id,
                     "created_at": now} for ref in missing], ids=True)))
        except IntegrityError:  # another worker created one of them meanwhile: take them one by one
            found.update((ref.key, get_account(ref.kind, ref.currency, ref.customer_id).id) for ref in missing)
    return found


def check_balanced(legs: list[Leg]) -> None:
    """Raise UnbalancedTransaction unless the legs sum to zero in each currency."""
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        totals[leg.account.currency] += leg.amount
    broken = {currency: total for currency, total in totals.items() if total}
    if broken:
        raise UnbalancedTransaction(f"legs do not sum to zero: {broken}")


@Prebuilt
def _existing_keys_statement():
    return (select(LedgerTransaction.idempotency_key, LedgerTransaction.id)
            .where(among_param(LedgerTransaction.idempotency_key, "keys")))


def _existing_keys(keys: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(keys, CHUNK):
        found.update(db.session.execute(_existing_keys_statement(), {"keys": chunk}).all())
    return found


def post_many(transactions: list[NewTransaction]) -> list[int | None]:
    """Add balanced transactions in bulk (not committed); their ids in order, None where nothing was left to post.

    Every transaction is checked before any row is written: an unbalanced one raises UnbalancedTransaction
    and nothing is posted. A transaction whose idempotency_key was posted before is not posted again: its
    answer is the first one's id.
    """
    for transaction in transactions:
        transaction._kept = [leg for leg in transaction.legs if leg.amount]
        check_balanced(transaction._kept)
    keys = [t.idempotency_key for t in transactions if t.idempotency_key is not None]
    if len(set(keys)) != len(keys):
        raise ValueError("two transactions of one post_many() share an idempotency key")
    db.session.flush()  # Account rows and the rows the legs are tagged with exist before ours refer to them
    existing = _existing_keys(keys) if keys else {}
    todo = [t for t in transactions if t.idempotency_key not in existing and (t._kept or t.keep_empty)]
    accounts = account_ids({leg.account for t in todo for leg in t._kept if isinstance(leg.account, AccountRef)})
    now = utcnow()
    new_ids = insert_rows(LedgerTransaction.__table__, [
        {"kind": t.kind, "memo": t.memo, "customer_id": t.customer_id, "idempotency_key": t.idempotency_key,
         "batch_transaction_id": t.batch_transaction_id, "created_at": now, "effective_at": t.effective_at or now}
        for t in todo], ids=True)
    entries = []
    for transaction, transaction_id in zip(todo, new_ids):
        for leg in transaction._kept:
            account = leg.account
            account_id = accounts[account.key] if isinstance(account, AccountRef) else account.id
            entries.append({"transaction_id": transaction_id, "account_id": account_id,
                            "currency": account.currency, "amount": leg.amount, "reward_id": leg.reward_id})
    insert_rows(LedgerEntry.__table__, entries)
    posted = dict(zip(map(id, todo), new_ids))
    return [existing[t.idempotency_key] if t.idempotency_key in existing else posted.get(id(t))
            for t in transactions]


def post(kind: str, legs: list[Leg], *, memo: str = "", customer_id: int | None = None,
         idempotency_key: str | None = None, batch_transaction_id: int | None = None,
         keep_empty: bool = False, effective_at: datetime | None = None) -> LedgerTransaction | None:
    """post_many() of one transaction, returned as a row; None when no leg is left (unless keep_empty).

    With an idempotency_key, posting the same key again returns the first transaction unchanged.
    """
    [transaction_id] = post_many([NewTransaction(kind, legs, memo, customer_id, idempotency_key,
                                                 batch_transaction_id, keep_empty, effective_at)])
    return db.session.get(LedgerTransaction, transaction_id) if transaction_id is not None else None


def transaction_by_key(idempotency_key: str) -> LedgerTransaction | None:
    return db.session.scalar(db.select(LedgerTransaction).filter_by(idempotency_key=idempotency_key))


def balance(account: Account) -> int:
    return int(db.session.scalar(
        db.select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.account_id == account.id)))


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
