"""Reconciliation with Stripe: the period's settled Stripe items against the transfers Stripe lists, by transfer id.

Refero's side: items paid through Stripe whose settlement falls in [from, to + 1 day) UTC, and for each the money
the ledger took back as transfer reversals. Stripe's side: every transfer it lists created in the period (a day
of slack either side, as a transfer is made just before Refero records it), auto-paginated through the SDK and
kept when its metadata names a Refero payout item. Differences, one per transfer:
- amount_differs: Stripe's amount is not the item's;
- reversed_differs: Stripe's amount_reversed is not what the ledger reversed for it;
- unknown_at_refero: Stripe made a transfer for Refero that no paid item records;
- missing_at_stripe: an item Refero paid whose transfer Stripe does not show.
Each run is stored (ReconciliationRun) with every difference, for the page and /finance.
"""
from datetime import date, timedelta

import stripe
from sqlalchemy import func

from rewards.extensions import db
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction
from rewards.payouts import stripe_client
from rewards.payouts.models import PayoutItem
from rewards.reports import figures
from rewards.reports.models import ReconciliationRun

KINDS = {"amount_differs": "amounts differ", "reversed_differs": "reversed amounts differ",
         "unknown_at_refero": "Stripe has a transfer Refero does not", "missing_at_stripe": "Stripe does not show it"}
SLACK = timedelta(days=1)
# The ledger key of a transfer reversal (rewards.payouts.webhooks): transfer_reversal:<transfer id>:to:<total>.
REVERSAL_KEY_PREFIX = "transfer_reversal:"


def settled_items(first: date, last: date) -> list[PayoutItem]:
    """Items paid through Stripe, settled in the period."""
    start, end = figures.period_bounds(first, last)
    return list(db.session.scalars(
        db.select(PayoutItem).where(PayoutItem.status == "paid", PayoutItem.method == "stripe",
                                    PayoutItem.stripe_transfer_id.is_not(None),
                                    PayoutItem.paid_at >= start, PayoutItem.paid_at < end)
        .order_by(PayoutItem.paid_at, PayoutItem.id)))


def ledger_reversals() -> dict[str, int]:
    """{transfer id: money the ledger took back from paid out for it}, from the transfer-reversal postings."""
    prefix = REVERSAL_KEY_PREFIX
    rows = db.session.execute(
        db.select(LedgerTransaction.idempotency_key, func.sum(LedgerEntry.amount))
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerTransaction.kind == "transfer_reversal", Account.kind == "paid_out",
               LedgerTransaction.idempotency_key.like(prefix + "%"))
        .group_by(LedgerTransaction.idempotency_key))
    result: dict[str, int] = {}
    for key, total in rows:
        transfer_id = key[len(prefix):].split(":", 1)[0]
        result[transfer_id] = result.get(transfer_id, 0) - int(total)
    return result


def is_referos(transfer: dict) -> bool:
    return bool((transfer.get("metadata") or {}).get("refero_item_id"))


def _difference(kind, transfer_id, item=None, refero=None, stripe_side=None, message="") -> dict:
    return {"kind": kind, "transfer_id": transfer_id, "item_id": item and item.id, "batch_id": item and item.batch_id,
            "refero": refero, "stripe": stripe_side, "message": message}


def compare(items: list[PayoutItem], listed: dict[str, dict], period: tuple[int, int], reversed_by_ledger: dict,
            retrieve) -> tuple[int, list[dict]]:
    """(matched, differences) of Refero's items against Stripe's transfers; `retrieve(id)` asks Stripe for a
    transfer not listed in the window."""
    matched, differences = 0, []
    for item in items:
        transfer_id = item.stripe_transfer_id
        transfer = listed.get(transfer_id) or retrieve(transfer_id)
        if transfer is None:
            differences.append(_difference("missing_at_stripe", transfer_id, item, item.amount, None,
                                           f"Refero paid {item.amount} {item.currency} by this transfer; "
                                           "Stripe does not know it."))
            continue
        ledger_reversed = reversed_by_ledger.get(transfer_id, 0)
        if transfer.get("amount") != item.amount:
            differences.append(_difference("amount_differs", transfer_id, item, item.amount, transfer.get("amount"),
                                           f"Refero paid {item.amount}, Stripe transferred {transfer.get('amount')}."))
        elif int(transfer.get("amount_reversed") or 0) != ledger_reversed:
            differences.append(_difference("reversed_differs", transfer_id, item, ledger_reversed,
                                           int(transfer.get("amount_reversed") or 0),
                                           f"The ledger took back {ledger_reversed}; Stripe reversed "
                                           f"{transfer.get('amount_reversed') or 0}."))
        else:
            matched += 1
    known = set(db.session.scalars(db.select(PayoutItem.stripe_transfer_id).where(
        PayoutItem.status == "paid", PayoutItem.stripe_transfer_id.in_(list(listed))))) if listed else set()
    for transfer_id, transfer in listed.items():
        if transfer_id not in known and period[0] <= int(transfer.get("created") or 0) < period[1]:
            meta = transfer.get("metadata") or {}
            differences.append(_difference(
                "unknown_at_refero", transfer_id, None, None, transfer.get("amount"),
                f"Stripe made {transfer.get('amount')} {transfer.get('currency')} to {transfer.get('destination')} "
                f"for Refero item {meta.get('refero_item_id')} of batch {meta.get('refero_batch_id')}, "
                "which no paid item records."))
    return matched, differences


def reconcile(first: date, last: date, user=None, via: str = "page") -> ReconciliationRun:
    """Run a reconciliation of the period and store its result (not committed). A Stripe failure is a run with
    status `error`, saying what went wrong."""
    start, end = figures.period_bounds(first, last)
    run = ReconciliationRun(first_day=first, last_day=last, via=via, run_by_id=getattr(user, "id", None),
                            differences=[])
    try:
        client = stripe_client.client()
        window = (int((start - SLACK).timestamp()), int((end + SLACK).timestamp()))
        listed = {t["id"]: t for t in client.transfers_created(*window) if is_referos(t)}
        run.matched, run.differences = compare(settled_items(first, last), listed,
                                               (int(start.timestamp()), int(end.timestamp())), ledger_reversals(),
                                               client.retrieve_transfer)
        run.status = "differences" if run.differences else "matched"
    except stripe_client.NotConfigured as error:
        run.status, run.error_message = "error", error.message
    except stripe.StripeError as error:
        run.status, run.error_message = "error", f"Stripe could not be read: {error.user_message or error}"
    db.session.add(run)
    db.session.flush()
    return run


def last_run() -> ReconciliationRun | None:
    return db.session.scalar(db.select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(1))


def recent_runs(limit: int = 20) -> list[ReconciliationRun]:
    return list(db.session.scalars(db.select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(limit)))
