"""A customer's rewards for the portal, each with its referral and sale (their sums: rewards.ledger.balances)."""
from sqlalchemy.orm import joinedload

from rewards.extensions import db
from rewards.programs.models import Reward
from rewards.programs.service import rewards_query


def rewards_page(customer_id: int, page: int, per_page: int):
    """One page of the customer's rewards, newest first, with their referral and sale loaded."""
    query = rewards_query(customer_id).options(joinedload(Reward.referral), joinedload(Reward.sale))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)
