"""Finance's three figures, each defined once in ledger terms and dated by the UTC time of the ledger posting
(Stripe's `created` where Stripe is the source: `posted_at` below).

Per referrer and currency, over the legs posted in a period:
- rewards_earned: the earn postings on the referrer's earned account (rewards as granted);
- rewards_reversed: reductions and reversals of unpaid rewards taken off the earned account, plus clawbacks
  onto the referrer's debt after a payout (shown positive);
- paid: money reaching the referrer's paid-out account (settled payouts, Stripe or manual) minus transfer
  reversals taken back from it; a Stripe transfer counts when Stripe created it, a reversal when Stripe made it.

Every other posting (a batch moving money into transit, a cancelled batch releasing it) moves money between the
referrer's own accounts and changes none of the three. So, cumulatively, earned − reversed − paid equals what the
referrer's earned, debt and in-transit accounts hold: what Refero still owes them (tests/test_reports_figures.py).
"""
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_

from rewards.admin.stats import midnight
from rewards.extensions import db
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction

FIGURES = ("rewards_earned", "rewards_reversed", "paid")
EARN_KINDS = ("earn",)
TAKEN_BACK_KINDS = ("reduce", "reverse")
CLAWBACK_KINDS = ("clawback",)

# The moment a leg counts, in UTC: its transaction's effective time, which is when it was posted, or for what Stripe
# did (a transfer settling a payout, a transfer reversal) Stripe's `created` for it, however late Refero heard of it.
posted_at = LedgerTransaction.effective_at


def period_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """[first, last + 1 day) in UTC: both days included, whole days."""
    return midnight(first), midnight(last + timedelta(days=1))


def year_period(year: int) -> tuple[datetime, datetime]:
    return period_bounds(date(year, 1, 1), date(year, 12, 31))


def earned_leg():
    """A leg's contribution to rewards_earned (0 for legs that are not an earn on the earned account)."""
    return case((and_(LedgerTransaction.kind.in_(EARN_KINDS), Account.kind == "referrer_earned"),
                 LedgerEntry.amount), else_=0)


def reversed_leg():
    """A leg's contribution to rewards_reversed, positive."""
    taken_back = and_(LedgerTransaction.kind.in_(TAKEN_BACK_KINDS), Account.kind == "referrer_earned")
    clawed_back = and_(LedgerTransaction.kind.in_(CLAWBACK_KINDS), Account.kind == "referrer_debt")
    return case((or_(taken_back, clawed_back), -LedgerEntry.amount), else_=0)


def paid_leg():
    """A leg's contribution to paid: what reached or left the paid-out account."""
    return case((Account.kind == "paid_out", LedgerEntry.amount), else_=0)


def leg_figures():
    """(earned, reversed, paid) of one leg, as SQL expressions over LedgerEntry, Account and LedgerTransaction."""
    return earned_leg(), reversed_leg(), paid_leg()


def totals():
    """(earned, reversed, paid) summed over the legs a query selects, as SQL aggregates."""
    return tuple(func.coalesce(func.sum(expr), 0) for expr in leg_figures())


def legs_in(start: datetime, end: datetime, *columns):
    """SELECT columns FROM every referrer leg posted in [start, end), joined to its account and transaction."""
    return (db.select(*columns)
            .select_from(LedgerEntry)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .join(Account, Account.id == LedgerEntry.account_id)
            .where(posted_at >= start, posted_at < end, Account.customer_id.is_not(None)))
