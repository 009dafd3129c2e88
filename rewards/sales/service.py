"""Recording sales and refunds, each once, and weighing every new sale against the referrals it may prove."""
import functools
from dataclasses import dataclass

from sqlalchemy import bindparam, exists, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from rewards import audit
from rewards.audit.models import AuditEvent
from rewards.bulk import among_param
from rewards.errors import Conflict, InvalidInput, NotFound
from rewards.extensions import db
from rewards.programs.models import Reward
from rewards.programs.service import on_sale_refunded
from rewards.sales.models import Refund, Sale
from rewards.sales.rows import clean_sale
from rewards.sales.validation import may_prove_a_referral, weigh_new_sale


def get_sale(external_id: str) -> Sale:
    sale = db.session.scalar(select(Sale).filter_by(external_id=external_id))
    if sale is None:
        raise NotFound("No sale with this external_id.", "external_id")
    return sale


def reward_for_sale(sale: Sale) -> Reward | None:
    return db.session.scalar(select(Reward).filter_by(sale_id=sale.id))


@dataclass(frozen=True)
class RecordedSale:
    """What recording a sale did: the sale's id, external id and the referral it proved; whether it is new; the
    reward it earned (a Reward, or None)."""

    id: int
    external_id: str
    referral_id: int | None
    created: bool
    reward: Reward | None


def record_sale(fields: dict, source: str) -> RecordedSale:
    """Store a reported sale once (not committed), weighed against the referrals it may prove.

    The same external_id with the same content is a harmless repeat; with other content, a Conflict.
    """
    row = clean_sale(fields)
    sale_id, landing = insert_sale({**row, "source": source})
    if sale_id is not None:
        # The common sale proves nothing: nothing waited for it, and nothing was loaded to learn that.
        referral_id, reward = land_sale(sale_id, landing, row)
        return RecordedSale(sale_id, row["external_id"], referral_id, True, reward)
    # A repeat, or a concurrent twin that committed first (the INSERT waited for it, then did nothing).
    existing = db.session.scalar(select(Sale).filter_by(external_id=row["external_id"]))
    if existing.content_hash != row["content_hash"]:
        raise Conflict("A sale with this external_id was already recorded with different content.", "external_id")
    return RecordedSale(existing.id, existing.external_id, existing.referral_id, False, reward_for_sale(existing))


@dataclass(frozen=True)
class Landing:
    """What is left to do for a sale that just landed, as its INSERT found: write its audit event (unless the
    INSERT wrote it), apply a refund reported before it, weigh it against a pending referral it may prove."""

    audit: bool = True
    refunds: bool = True
    referrals: bool = True


def insert_sale(values: dict) -> tuple[int | None, Landing]:
    """INSERT a cleaned sale (clean_sale) unless its external_id or PaymentIntent is stored: one statement, no
    lookup or savepoint first; (the new sale's id, what is left to do), or (None, …) when a twin is there (or a
    concurrent one committed first). Only the id comes back: no ORM object is built for a sale nothing awaits.

    The same statement says whether a refund or a pending referral waits for the sale (rarely) and, on
    PostgreSQL, writes the sale's audit event: the common sale, which proves nothing, costs no statement more.
    """
    refs = [ref for ref in (values["external_id"], values.get("stripe_payment_intent")) if ref]
    buyer = [values.get(name) or None for name in BUYER]
    if db.engine.dialect.name != "postgresql":
        found = _found(Refund.sale_ref.in_(refs), *buyer)
        statement = sqlite.insert(Sale).values(**values).on_conflict_do_nothing().returning(Sale.id, *found)
        result = db.session.execute(statement).one_or_none()
    else:
        # Built once for each shape of sale (the columns given, the buyer's details known): the statement, its
        # cache key and PostgreSQL's prepared plan are reused, and each sale only binds its values.
        statement = _insert_and_audit(tuple(sorted(values)), tuple(detail is not None for detail in buyer))
        event = audit.event_row("sale.recorded", "sales", None, _recorded(values))
        params = {**{f"v_{name}": value for name, value in values.items()}, "refs": refs,
                  **{f"b_{name}": detail for name, detail in zip(BUYER, buyer) if detail is not None},
                  **{f"a_{name}": value for name, value in event.items() if name != "entity_id"}}
        result = db.session.execute(statement, params).one_or_none()
    if result is None:
        return None, Landing()
    return result[0], Landing(audit=db.engine.dialect.name != "postgresql", refunds=bool(result[1]),
                              referrals=bool(result[2]))


BUYER = ("email", "phone", "referral_code")


def _found(named, email, phone, referral_code) -> tuple:
    """Whether a refund names the sale (`named`: its condition on Refund.sale_ref), whether a pending referral may
    be proved by its buyer."""
    return (exists().where(Refund.sale_id.is_(None), named).label("refunds_waiting"),
            may_prove_a_referral(email, phone, referral_code).label("referrals_waiting"))


@functools.cache
def _insert_and_audit(columns: tuple, known: tuple):
    """WITH new_sale AS (INSERT … RETURNING *), audited AS (INSERT INTO audit_events … SELECT … FROM new_sale)
    SELECT new_sale.id, <_found> FROM new_sale: one round trip, nothing at all when a twin is there (PostgreSQL)."""
    sales, events = Sale.__table__, AuditEvent.__table__
    new_sale = (postgresql.insert(sales).values({name: bindparam(f"v_{name}", type_=sales.c[name].type)
                                                 for name in columns})
                .on_conflict_do_nothing().returning(*sales.c).cte("new_sale"))
    names = [column.name for column in events.c if column.name != "id"]
    audited = insert(events).from_select(names, select(*[
        new_sale.c.id if name == "entity_id" else bindparam(f"a_{name}", type_=events.c[name].type)
        for name in names]).select_from(new_sale)).cte("audited")
    buyer = [bindparam(f"b_{name}", type_=sales.c[name].type) if given else None for name, given in zip(BUYER, known)]
    found = _found(among_param(Refund.sale_ref, "refs"), *buyer)  # = ANY(array): rendered once, not per sale
    return select(new_sale.c.id, *found).add_cte(audited)


def _recorded(sale) -> dict:
    """The detail of a sale's `sale.recorded` audit event (a Sale or its inserted values)."""
    get = sale.get if isinstance(sale, dict) else lambda name: getattr(sale, name)
    return {"external_id": get("external_id"), "source": get("source"), "amount": get("amount"),
            "currency": get("currency")}


def insert_once(record) -> bool:
    """Add `record`; False when a unique key says it is already there (a concurrent twin committed first)."""
    try:
        with db.session.begin_nested():
            db.session.add(record)
            db.session.flush()
    except IntegrityError:
        return False
    return True


def land_sale(sale_id: int, landing: Landing, buyer: dict) -> tuple[int | None, Reward | None]:
    """After a new sale is stored: audit it, apply refunds that came first, weigh it against the referrals it may
    prove; (the referral it now belongs to, the reward it earned). `buyer`: the sale's email, phone and
    referral_code, as inserted. The sale is loaded only when a refund or its audit event (SQLite) waits for it.
    """
    if landing.audit or landing.refunds:
        sale = db.session.get(Sale, sale_id)
        if landing.audit:
            audit.record("sale.recorded", sale, _recorded(sale))
        if landing.refunds:
            refs = [ref for ref in (sale.external_id, sale.stripe_payment_intent) if ref]
            applied = db.session.scalars(select(Refund).where(Refund.sale_id.is_(None),
                                                              Refund.sale_ref.in_(refs))).all()
            for refund in applied:
                refund.sale_id = sale.id
                audit.record("refund.applied", refund, {"sale_id": sale.id})
            if applied:
                db.session.flush()
                db.session.expire(sale, ["refunds"])
    if not landing.referrals:
        return None, None
    return weigh_new_sale(sale_id, *(buyer.get(name) for name in BUYER))


def find_sale_by_ref(sale_ref: str) -> Sale | None:
    """The sale a refund names: by its external id or its Stripe PaymentIntent."""
    return db.session.scalar(select(Sale).where(
        or_(Sale.external_id == sale_ref, Sale.stripe_payment_intent == sale_ref)).limit(1))


def record_refund(sale_ref: str, external_id: str, amount: int, source: str,
                  strict: bool = True) -> tuple[Refund, bool]:
    """Store a refund once (not committed): (refund, created). Kept unapplied until its sale lands.

    `strict` refuses a refund larger than what is left of the sale (an API caller's mistake); Stripe's
    own figures are taken as they come.
    """
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 255:
        raise InvalidInput("external_id is required (at most 255 characters).", "external_id")
    if amount <= 0:
        raise InvalidInput("A refund's amount must be positive.", "amount")
    existing = db.session.scalar(select(Refund).filter_by(external_id=external_id))
    if existing is None:
        sale = find_sale_by_ref(sale_ref)
        if sale is not None and strict and amount > sale.amount - sale.refunded_amount:
            raise InvalidInput("The refund is larger than what is left of the sale.", "amount")
        refund = Refund(external_id=external_id, sale_id=sale.id if sale else None, sale_ref=sale_ref,
                        amount=amount, source=source)
        if insert_once(refund):
            audit.record("refund.recorded", refund, {"sale_ref": sale_ref, "amount": amount,
                                                     "applied": sale is not None})
            if sale is not None:
                db.session.expire(sale, ["refunds"])
                on_sale_refunded(sale)
            return refund, True
        existing = db.session.scalar(select(Refund).filter_by(external_id=external_id))
    if existing.amount != amount or existing.sale_ref != sale_ref:
        raise Conflict("A refund with this external_id was already recorded with different content.", "external_id")
    return existing, False


def refunded_total(sale_ref: str) -> int:
    """What has been refunded of the sale `sale_ref` names, applied or still waiting for it."""
    sale = find_sale_by_ref(sale_ref)
    condition = Refund.sale_ref == sale_ref if sale is None else or_(Refund.sale_ref == sale_ref,
                                                                      Refund.sale_id == sale.id)
    return db.session.scalar(select(db.func.coalesce(db.func.sum(Refund.amount), 0)).where(condition))
