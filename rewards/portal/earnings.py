"""A customer's earnings for the portal: sums per currency and status, and each reward with its referral and sale."""
from sqlalchemy import func
from sqlalchemy.orm import joinedload

from rewards.extensions import db
from rewards.ledger.balances import customer_balances
from rewards.programs.models import Reward
from rewards.programs.service import rewards_query


def earnings_by_currency(customer_id: int) -> list[dict]:
    """[{currency, held, payable, batched, paid, reversed, debt}]: money from the ledger, reversed from the rewards."""
    reversed_totals = dict(db.session.execute(
        db.select(Reward.currency, func.sum(Reward.granted_amount - Reward.value))
        .where(Reward.referrer_id == customer_id).group_by(Reward.currency)).all())
    rows = []
    for balance in customer_balances(customer_id):
        rows.append({**balance, "reversed": int(reversed_totals.get(balance["currency"]) or 0)})
    return rows


def rewards_page(customer_id: int, page: int, per_page: int):
    """One page of the customer's rewards, newest first, with their referral and sale loaded."""
    query = rewards_query(customer_id).options(joinedload(Reward.referral), joinedload(Reward.sale))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)
