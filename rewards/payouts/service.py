"""Payout batches: draft (amounts frozen through the ledger), cancel, four-eyes approval, retry, manual payment.

Every function here leaves the commit to its caller (a view, the CLI, the executor), except where it says so.
"""
import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy import func
from sqlalchemy.orm.attributes import set_committed_value

from rewards import audit
from rewards.bulk import insert_rows, update_rows
from rewards.clock import utcnow
from rewards.errors import Conflict, Forbidden, InvalidInput, NotFound
from rewards.extensions import db
from rewards.ledger import payouts as ledger
from rewards.links import public_url
from rewards.notifications import service as notifications
from rewards.payouts.models import PayoutAccount, PayoutBatch, PayoutItem

SKIP_REASONS = {"no_account": "no payout account", "not_ready": "account not ready", "below": "below minimum"}
# An item in one of these states still needs a person (or a retry) before its batch is settled.
OPEN_ITEM_STATUSES = ("pending", "failed", "review")


def default_minimum() -> int:
    return int(current_app.config.get("PAYOUT_MINIMUM_AMOUNT", 1000))


def get_batch(batch_id: int, lock: bool = False) -> PayoutBatch:
    query = db.select(PayoutBatch).filter_by(id=batch_id)
    batch = db.session.scalar(query.with_for_update() if lock else query)
    if batch is None:
        raise NotFound(f"No payout batch {batch_id}.")
    return batch


def get_item(batch_id: int, item_id: int, lock: bool = False) -> PayoutItem:
    query = db.select(PayoutItem).filter_by(id=item_id, batch_id=batch_id)
    item = db.session.scalar(query.with_for_update() if lock else query)
    if item is None:
        raise NotFound(f"No item {item_id} in payout batch {batch_id}.")
    return item


def batches_query(status: str | None = None):
    query = db.select(PayoutBatch).order_by(PayoutBatch.id.desc())
    return query.filter_by(status=status) if status else query


def draft_batch(currency: str, minimum_amount: int | None, user) -> PayoutBatch:
    """A draft batch of every referrer whose payable money reaches the minimum (not committed); 409 if none.

    Each item's amount is frozen now: the ledger moves it into transit. Referrers left out are listed with why.
    """
    currency = currency.lower()
    minimum = default_minimum() if minimum_amount is None else minimum_amount
    if minimum < 1:
        raise InvalidInput("The minimum must be at least 1 (minor units).", "minimum_amount")
    batch = PayoutBatch(currency=currency, minimum_amount=minimum, created_by_id=getattr(user, "id", None),
                        skipped=[])
    db.session.add(batch)
    db.session.flush()
    skipped, chosen = [], []
    accounts = {a.customer_id: a for a in db.session.scalars(db.select(PayoutAccount))}
    for customer_id, payable in ledger.payable_summaries(currency).items():
        account = accounts.get(customer_id)
        reason = "no_account" if account is None else ("not_ready" if not account.ready else None)
        if reason is None and payable.net < minimum:
            reason = "below"
        if reason:
            skipped.append({"customer_id": customer_id, "reason": SKIP_REASONS[reason]})
        else:
            chosen.append(customer_id)
    # One ledger call for the lot: the same rule as batch_payable, keyed per referrer of this batch.
    moves = ledger.batch_payable_many(currency, [(customer_id, f"batch:payout-batch-{batch.id}:customer-{customer_id}")
                                                 for customer_id in chosen])
    items, now = [], utcnow()
    for customer_id, moved in zip(chosen, moves):
        if moved is None or moved.net < minimum:  # a refund landed since the summary: leave the referrer out
            if moved is not None:
                ledger.release_batch(moved.transaction.id)
            skipped.append({"customer_id": customer_id, "reason": SKIP_REASONS["below"]})
            continue
        items.append({"batch_id": batch.id, "customer_id": customer_id, "currency": currency, "amount": moved.net,
                      "status": "pending", "method": "stripe", "destination": accounts[customer_id].stripe_account_id,
                      "transfer_group": f"refero-payout-{batch.id}-{customer_id}-{secrets.token_hex(4)}",
                      "attempt_generation": 1, "attempt_state": "new", "attempts": 0, "reversed_amount": 0,
                      "batch_transaction_id": moved.transaction.id, "created_at": now, "updated_at": now})
    insert_rows(PayoutItem.__table__, items)  # in bulk (COPY on PostgreSQL): a batch may hold many thousands
    db.session.expire(batch, ["items"])
    batch.total = sum(item["amount"] for item in items)
    batch.skipped = skipped
    if batch.total == 0:
        raise Conflict(f"Nothing is payable in {currency.upper()} (at a minimum of {minimum}): "
                       f"{len(skipped)} referrer(s) left out.")
    audit.record("payout_batch.drafted", batch, {"currency": currency, "total": batch.total,
                                                 "items": len(items), "skipped": len(skipped)})
    # Four eyes: everyone else in finance learns that the draft waits for their approval.
    notifications.notify_batch_awaiting_approval(batch.id, batch.total, currency, len(items), batch.created_by_id,
                                                 public_url("payouts_pages.batch", batch_id=batch.id))
    return batch


def cancel_batch(batch_id: int) -> PayoutBatch:
    """A draft is cancelled (not committed): the ledger takes its money out of transit; rewards payable again."""
    batch = get_batch(batch_id, lock=True)
    if batch.status != "draft":
        raise Conflict(f"Only a draft can be cancelled; this batch is {batch.status}.")
    for item in batch.items:
        ledger.release_batch(item.batch_transaction_id)
    batch.status, batch.cancelled_at = "cancelled", utcnow()
    audit.record("payout_batch.cancelled", batch, {"total": batch.total})
    return batch


def approve_batch(batch_id: int, user) -> PayoutBatch:
    """Four eyes: a finance or admin user other than the batch's creator approves a draft (not committed)."""
    batch = get_batch(batch_id, lock=True)
    if not user.has_role("finance"):
        raise Forbidden("Only finance or an admin may approve a payout batch.")
    if batch.created_by_id is not None and batch.created_by_id == user.id:
        raise Forbidden("A second person must approve: you drafted this batch.")
    if batch.status != "draft":
        raise Conflict(f"Only a draft can be approved; this batch is {batch.status}.")
    batch.status, batch.approved_by_id, batch.approved_at = "approved", user.id, utcnow()
    audit.record("payout_batch.approved", batch, {"total": batch.total})
    return batch


def prepare_execution(batch_id: int) -> PayoutBatch:
    """Before queuing execution (not committed): 409 unless approved or already running or done; failed items of a
    batch that ran are put back to pending for another try (a `paid` item is never sent again)."""
    batch = get_batch(batch_id, lock=True)
    if batch.status not in ("approved", "processing", "paid", "partially_failed"):
        raise Conflict(f"Only an approved batch can be executed; this batch is {batch.status}.")
    retried = retry_failed_items(batch)
    if batch.status in ("paid", "partially_failed") and retried:
        batch.status = "processing"
    audit.record("payout_batch.execution_requested", batch, {"retried": retried})
    return batch


def retry_failed_items(batch: PayoutBatch, item_id: int | None = None) -> int:
    """`failed` → `pending` for the batch's failed items (or one of them); how many were put back."""
    query = db.update(PayoutItem).where(PayoutItem.batch_id == batch.id, PayoutItem.status == "failed")
    if item_id is not None:
        query = query.where(PayoutItem.id == item_id)
    result = db.session.execute(query.values(status="pending", next_attempt_at=None, attempts=0)
                                .execution_options(synchronize_session=False))
    db.session.expire_all()
    return result.rowcount


def settle_item(item: PayoutItem, *, transfer_id: str | None = None, paid_at: datetime | None = None,
                method: str = "stripe", reference: str | None = None, user=None) -> bool:
    """Record one item paid and settle it in the ledger (not committed); False if it was paid already."""
    return bool(settle_items([(item, transfer_id, paid_at)], method=method, reference=reference, user=user))


def settle_items(paid: list[tuple], *, method: str = "stripe", reference: str | None = None, user=None,
                 held_by: str | None = None) -> list:
    """Record items paid (with their transfer ids and Stripe's `created` of each transfer) and settle them in the
    ledger, the lot in a few statements (not committed); the items this call settled. The status change is guarded
    (only from pending, failed or review), so two workers never settle one item twice; the ledger's confirmation is
    keyed per item's batch transaction. An item and its settlement are dated by Stripe's `created` (however late
    Refero learns of the transfer), or now when there is none (a manual payment). `paid` holds
    (item, transfer_id, created) tuples; an item is a PayoutItem or any row with its `id`, `amount`, `currency` and
    `batch_transaction_id`.

    `held_by` (an executor's lease owner) narrows the guard to pending items that executor still holds, in the
    attempt generation it sent (each item then has its `generation`): an item another executor took over is left.
    """
    now = utcnow()
    values = {"status": "paid", "method": method, "lease_owner": None, "lease_until": None,
              "next_attempt_at": None, "reference": reference, "paid_by_id": getattr(user, "id", None)}
    if method == "stripe":
        values.update(failure_code=None, failure_message=None)
    if not paid:
        return []
    guard = PayoutItem.status.in_(OPEN_ITEM_STATUSES)
    rows = [{"id": item.id, "stripe_transfer_id": transfer_id, "paid_at": paid_at or now}
            for item, transfer_id, paid_at in paid]
    if held_by is not None:
        guard = (PayoutItem.status == "pending") & (PayoutItem.lease_owner == held_by)
        rows = [{**row, "attempt_generation": item.generation} for row, (item, _, _) in zip(rows, paid)]
    settled_ids = set(update_rows(PayoutItem.__table__, "id", values, rows, guard,
                                  match=("attempt_generation",) if held_by is not None else (), returning=True))
    settled = [(item, transfer_id, paid_at or now) for item, transfer_id, paid_at in paid if item.id in settled_ids]
    ledger.confirm_paid_many([(item.batch_transaction_id, item.amount, transfer_id or reference, at)
                              for item, transfer_id, at in settled])
    for item, transfer_id, at in settled:
        if isinstance(item, PayoutItem):
            for name, value in {**values, "stripe_transfer_id": transfer_id, "paid_at": at}.items():
                set_committed_value(item, name, value)
    audit.record_many([("payout_item.paid", PayoutItem.__tablename__, item.id,
                        {"method": method, "amount": item.amount, "currency": item.currency,
                         "stripe_transfer_id": transfer_id, "reference": reference})
                       for item, transfer_id, _ in settled])
    return [item for item, _, _ in settled]


def _check_stripe_made_nothing(item: PayoutItem) -> None:
    """A failed item whose key reached Stripe may have been paid after all: ask Stripe before a payment by hand."""
    from rewards.payouts import stripe_client

    if item.status != "failed" or item.attempt_state == "new" or not stripe_client.is_configured():
        return
    found = stripe_client.client().transfers_in_group(item.transfer_group)
    if not isinstance(found, list):
        raise Conflict(f"Stripe could not be asked whether this item was paid ({found.message}); try again.")
    if found:
        raise Conflict(f"Stripe shows transfer {found[0]['id']} for this item: retry it to record that payment "
                       "instead of paying by hand.")


def mark_paid_manually(batch_id: int, item_id: int, reference: str, user) -> PayoutItem:
    """Finance paid a failed or review item outside Stripe (bank transfer, cheque): settled with `reference`."""
    reference = (reference or "").strip()
    if not reference:
        raise InvalidInput("Say how it was paid: a bank or cheque reference.", "reference")
    _check_stripe_made_nothing(get_item(batch_id, item_id))
    batch = get_batch(batch_id, lock=True)
    item = get_item(batch_id, item_id, lock=True)
    if item.status not in ("failed", "review") or batch.status in ("draft", "approved", "cancelled"):
        raise Conflict(f"Only a failed or review item of an executed batch can be marked paid; this item is "
                       f"{item.status}.")
    settle_item(item, method="manual", reference=reference, user=user)
    finish_batch_if_done(batch)
    return item


def finish_batch_if_done(batch: PayoutBatch) -> None:
    """Once no item is pending, the batch is `paid` (all paid) or `partially_failed` (some failed or in review)."""
    counts = dict(db.session.execute(db.select(PayoutItem.status, func.count()).where(PayoutItem.batch_id == batch.id)
                                     .group_by(PayoutItem.status)).all())
    if batch.status not in ("processing", "partially_failed", "paid") or counts.get("pending"):
        return
    status = "paid" if set(counts) <= {"paid"} else "partially_failed"
    if status != batch.status:
        batch.status, batch.finished_at = status, utcnow()
        audit.record(f"payout_batch.{status}", batch, {"counts": counts})


def progress(batch: PayoutBatch) -> dict:
    """{status: count, amount per status, done fraction} of the batch's items, for the page and the CLI."""
    rows = db.session.execute(db.select(PayoutItem.status, func.count(), func.coalesce(func.sum(PayoutItem.amount), 0))
                              .where(PayoutItem.batch_id == batch.id).group_by(PayoutItem.status)).all()
    counts = {status: int(n) for status, n, _ in rows}
    amounts = {status: int(a) for status, _, a in rows}
    total = sum(counts.values())
    return {"counts": counts, "amounts": amounts, "total": total,
            "done": (total - counts.get("pending", 0)) / total if total else 1.0}


def retry_item(batch_id: int, item_id: int) -> PayoutItem:
    """Finance tries one failed item again (not committed): it is pending, its batch processing."""
    batch = get_batch(batch_id, lock=True)
    item = get_item(batch_id, item_id, lock=True)
    if item.status != "failed" or batch.status not in ("processing", "paid", "partially_failed"):
        raise Conflict(f"Only a failed item of an executed batch can be tried again; this item is {item.status}.")
    retry_failed_items(batch, item_id)
    batch.status = "processing"
    audit.record("payout_item.retry", item, {})
    return item
