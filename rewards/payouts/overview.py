"""What finance's home, the batch page and payout histories show: read-only queries."""
from sqlalchemy import func

from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.ledger.balances import balance_totals
from rewards.money import minor_unit_digits
from rewards.payouts.models import BATCH_STATUSES, PayoutBatch, PayoutItem

RECENT = 10


def money_in_flight() -> list[dict]:
    """[{currency, in_transit, paid, digits}] over all referrers, from the ledger's one balance read model."""
    return [{"currency": b.currency, "in_transit": b.batched, "paid": b.paid, "digits": minor_unit_digits(b.currency)}
            for b in balance_totals() if b.batched or b.paid]


def finance_home() -> dict:
    """Batches by status (counts and the latest of each), money in flight per currency, items needing a person."""
    counts = dict(db.session.execute(db.select(PayoutBatch.status, func.count()).group_by(PayoutBatch.status)).all())
    recent = {status: db.session.scalars(db.select(PayoutBatch).filter_by(status=status)
                                         .order_by(PayoutBatch.id.desc()).limit(RECENT)).all()
              for status in BATCH_STATUSES if counts.get(status)}
    attention = db.session.execute(
        db.select(PayoutItem, Customer).join(Customer, Customer.id == PayoutItem.customer_id)
        .join(PayoutBatch, PayoutBatch.id == PayoutItem.batch_id)
        .where(PayoutItem.status.in_(("failed", "review")), PayoutBatch.status != "cancelled")
        .order_by(PayoutItem.id).limit(100)).all()
    return {"batch_counts": counts, "batches_by_status": recent, "statuses": BATCH_STATUSES,
            "in_flight": money_in_flight(), "attention": attention}


def customers_of(batch: PayoutBatch) -> dict[int, Customer]:
    """{customer id: Customer} of the batch's items and of the referrers it left out."""
    ids = {item.customer_id for item in batch.items} | {s["customer_id"] for s in batch.skipped or []}
    if not ids:
        return {}
    return {c.id: c for c in db.session.scalars(db.select(Customer).where(Customer.id.in_(ids)))}


def payouts_of(customer_id: int) -> list[tuple[PayoutItem, PayoutBatch]]:
    """Every payout item that carried the customer's money (cancelled drafts left out), newest first."""
    return db.session.execute(
        db.select(PayoutItem, PayoutBatch).join(PayoutBatch, PayoutBatch.id == PayoutItem.batch_id)
        .where(PayoutItem.customer_id == customer_id, PayoutBatch.status != "cancelled")
        .order_by(PayoutItem.id.desc())).all()
