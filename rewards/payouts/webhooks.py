"""Stripe events of the payouts feature, handed the whole event by the webhook's dispatcher (rewards.sales)."""
from rewards import audit
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.ledger import payouts as ledger
from rewards.payouts import service
from rewards.payouts.accounts import on_account_updated
from rewards.payouts.models import PayoutItem, PayoutReversal
from rewards.payouts.stripe_client import created_time
from rewards.sales.stripe_events import register_event_handler


def _item_for(transfer: dict) -> PayoutItem | None:
    """The item that made this transfer (by its id, or by its group if the answer was never recorded); None if
    Refero did not make it."""
    item = db.session.scalar(db.select(PayoutItem).filter_by(stripe_transfer_id=transfer.get("id")).with_for_update())
    if item is None and transfer.get("transfer_group"):
        item = db.session.scalar(db.select(PayoutItem).filter_by(transfer_group=transfer["transfer_group"])
                                 .with_for_update())
        if item is not None and (item.stripe_transfer_id is not None or item.status not in ("pending", "failed")
                                 or transfer.get("amount") != item.amount
                                 or transfer.get("destination") != item.destination):
            return None
        if item is not None:  # the executor never heard back: this event proves the transfer was made
            service.settle_item(item, transfer_id=transfer["id"], paid_at=created_time(transfer))
    return item


def reversed_time(event: dict, transfer: dict):
    """When Stripe reversed what the event reports: the newest reversal's `created` in the transfer (the one that
    brought `amount_reversed` to what the event says), else the event's `created`; None if neither is given."""
    reversals = [created_time(reversal) for reversal in ((transfer.get("reversals") or {}).get("data") or [])
                 if isinstance(reversal, dict)]
    return max((moment for moment in reversals if moment), default=None) or created_time(event)


def on_transfer_reversed(event: dict) -> None:
    """Money Stripe took back from one of our transfers returns to the referrer's balance, once, dated by Stripe's
    time of the reversal however late the event arrives.

    Stripe's `amount_reversed` is cumulative, so each event moves only what it adds beyond what is recorded,
    capped at what the item paid: a replayed or late (reordered) event moves nothing.
    """
    transfer = (event.get("data") or {}).get("object") or {}
    item = _item_for(transfer)
    if item is None or item.status != "paid":
        return
    target = min(int(transfer.get("amount_reversed") or 0), item.amount)
    step = target - item.reversed_amount
    if step <= 0:
        return
    reversed_at = reversed_time(event, transfer) or utcnow()
    ledger.reverse_transfer(item.customer_id, item.currency, step,
                            idempotency_key=f"transfer_reversal:{item.stripe_transfer_id}:to:{target}",
                            reversed_at=reversed_at)
    db.session.add(PayoutReversal(item_id=item.id, stripe_transfer_id=item.stripe_transfer_id, reversed_to=target,
                                  amount=step, event_id=event.get("id"), reversed_at=reversed_at))
    item.reversed_amount = target
    audit.record("payout_item.reversed", item, {"amount": step, "reversed_to": target, "event": event.get("id")})


def register() -> None:
    register_event_handler("account.updated", on_account_updated)
    register_event_handler("transfer.reversed", on_transfer_reversed)
