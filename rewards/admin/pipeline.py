"""The referral pipeline: every referral, filtered, searched and sorted in the database, for staff."""
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import literal_column, select

from rewards.admin.search import name_or_email_matches
from rewards.admin.stats import midnight
from rewards.audit.models import AuditEvent
from rewards.bounds import is_digits
from rewards.accounts.models import User
from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.programs.models import Reward
from rewards.referrals.models import SOURCES, STATUSES, Referral
from rewards.sales.models import Sale

SORTS = {
    "newest": ("Newest first", (Referral.created_at.desc(), Referral.id.desc())),
    "oldest": ("Oldest first", (Referral.created_at.asc(), Referral.id.asc())),
    "name": ("Name A–Z", (Referral.referee_name.asc(), Referral.id.asc())),
    "name_desc": ("Name Z–A", (Referral.referee_name.desc(), Referral.id.desc())),
    "status": ("Status", (Referral.status.asc(), Referral.created_at.desc(), Referral.id.desc())),
}


@dataclass
class Filters:
    status: str | None = None
    source: str | None = None
    referrer: str | None = None
    q: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "newest"
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args, date_arg) -> "Filters":
        """Read the query string; unknown values are dropped and reported, never an error page."""
        filters = cls(referrer=(args.get("referrer") or "").strip() or None, q=(args.get("q") or "").strip() or None,
                      date_from=date_arg("date_from"), date_to=date_arg("date_to"))
        for name, allowed in (("status", STATUSES), ("source", SOURCES), ("sort", tuple(SORTS))):
            value = args.get(name) or None
            if value is not None and value not in allowed:
                filters.problems.append(f"Unknown {name} “{value}”: ignored.")
                value = None
            if value is not None:
                setattr(filters, name, value)
        return filters


def referrer_ids(term: str) -> list[int]:
    """Customers a "referrer" filter names: a customer number, or (up to 50) whose name or email contains it."""
    if is_digits(term):
        return [int(term)]
    return list(db.session.scalars(select(Customer.id).where(
        name_or_email_matches(Customer.name, Customer.email, term)).limit(50)))


def pipeline_query(filters: Filters):
    """Rows of (Referral, referrer name) matching the filters, sorted; each filter is served by an index."""
    query = select(Referral, Customer.name).join(Customer, Customer.id == Referral.referrer_id)
    if filters.status:
        query = query.where(Referral.status == filters.status)
    if filters.source:
        query = query.where(Referral.source == filters.source)
    if filters.referrer:
        query = query.where(Referral.referrer_id.in_(referrer_ids(filters.referrer) or [-1]))
    if filters.date_from:
        query = query.where(Referral.created_at >= midnight(filters.date_from))
    if filters.date_to:
        query = query.where(Referral.created_at < midnight(filters.date_to + timedelta(days=1)))
    if filters.q:
        query = query.where(name_or_email_matches(Referral.referee_name, Referral.referee_email, filters.q))
        if filters.sort in ("name", "name_desc"):
            return query.order_by(*_unindexed_name_order(filters.sort))
    return query.order_by(*SORTS[filters.sort][1])


def _unindexed_name_order(sort: str):
    """The name sorts, in an order no index provides: for a name search, which the prefix indexes serve.

    Otherwise PostgreSQL walks the name index from A, skipping every row until the searched names (all
    together in that order) begin: most of the table for a late letter. Sorting the matches costs far less.
    `name || ''` sorts exactly as `name` does.
    """
    name = Referral.referee_name.concat(literal_column("''"))
    return (name.asc(), Referral.id.asc()) if sort == "name" else (name.desc(), Referral.id.desc())


def referral_history(referral_id: int, reward_id: int | None = None) -> list[tuple[AuditEvent, str | None]]:
    """Every audit event about the referral (and its reward), oldest first, with the actor's email."""
    about = (AuditEvent.entity_type == "referrals") & (AuditEvent.entity_id == referral_id)
    if reward_id is not None:
        about = about | ((AuditEvent.entity_type == "rewards") & (AuditEvent.entity_id == reward_id))
    return db.session.execute(
        select(AuditEvent, User.email).outerjoin(User, User.id == AuditEvent.actor_user_id)
        .where(about).order_by(AuditEvent.created_at, AuditEvent.id)).all()


def sales_of(referral_id: int) -> list[Sale]:
    return db.session.scalars(select(Sale).where(Sale.referral_id == referral_id).order_by(Sale.occurred_at)).all()


def reward_of(referral_id: int) -> Reward | None:
    return db.session.scalar(select(Reward).where(Reward.referral_id == referral_id))
