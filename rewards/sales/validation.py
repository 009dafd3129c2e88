"""Running the checks (for one new sale, or re-validating pending referrals) and writing the decisions in bulk."""
import functools
from collections import Counter
from itertools import groupby

import time

from sqlalchemy import BindParameter, and_, bindparam, exists, false, or_, select

from rewards.audit.models import AuditEvent
from rewards.audit.service import current_actor
from rewards.bulk import Prebuilt, among, among_param, chunks, insert_rows, kept, update_rows, without_jit
from rewards.clock import utcnow
from rewards.customers.models import Customer
from rewards.events import referral_needs_review
from rewards.extensions import db
from rewards.garbage import without_gc
from rewards.programs.granting import grant_rewards
from rewards.programs.models import Reward
from rewards.referrals.models import Referral
from rewards.accounts.models import STAFF_ROLES, User
from rewards.sales.checks import (STREAM_BATCH, ProgramsInForce, evaluate, finish_self_check, pairs_query,
                                  settle_first_referrer, staff_check)
from rewards.sales.models import Decision, Sale

CHUNK = 1000


def _lock_query(referral_filter):
    """Lock the pending referrals in question (PostgreSQL), so two workers never decide one referral twice."""
    query = select(Referral.id).where(Referral.status == "pending", referral_filter).order_by(Referral.id)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    return query


def _weighing(referral_filter, params: dict | None) -> tuple:
    """The lock and pairs statements for `referral_filter`. A filter with bound parameters (`params`: a new sale's,
    one filter per shape of buyer) keeps its statements: they are built once per process and database."""
    def build():
        return _lock_query(referral_filter), pairs_query(referral_filter)

    if params is None:
        return build()
    return kept(("weighing", db.engine.dialect.name, id(referral_filter)), referral_filter, build)


def weigh(referral_filter, on_progress=None, *, stream: bool = False, params: dict | None = None) -> tuple[list, dict]:
    """Weigh the pending referrals matching `referral_filter` against the stored sales (not committed).

    Returns the verdicts and the ids of the rewards granted, by referral id. `stream`: read the pairs from a
    server-side cursor in batches, for a filter that may match many referrals (a re-validation); otherwise they
    are read in one round trip, by a statement PostgreSQL keeps prepared (a cursor costs DECLARE, FETCH and
    CLOSE, and a plan made afresh each time). `params`: the values of the filter's bound parameters, for a
    filter that is built once and kept (a new sale's: _bound_buyer_filter()).
    """
    db.session.flush()
    lock, pairs = _weighing(referral_filter, params)
    if db.session.execute(lock, params).first() is None:
        return [], {}
    programs = ProgramsInForce()
    results = []
    rows = db.session.execute(pairs, params, execution_options={"yield_per": STREAM_BATCH} if stream else {})
    for _, group in groupby(rows, key=lambda row: row[0]):
        weighed = evaluate(list(group), programs)
        if weighed is not None:
            results.append(weighed)
        if on_progress:
            on_progress(1)
    cards = _referrer_cards(sorted({w.referrer_id for w in results if w.sale_fingerprint}))
    for weighed in results:
        finish_self_check(weighed, cards.get(weighed.referrer_id, set()))
    staff = _staff_referrers(sorted({w.referrer_id for w in results}))
    for weighed in results:
        if weighed.referrer_id in staff:
            staff_check(weighed, staff[weighed.referrer_id])
    settle_first_referrer(results, _referrer_codes(sorted({w.sale_code for w in results
                                                            if w.sale_code and not w.by_code})))
    return results, _write(results, programs, on_progress)


@Prebuilt
def _staff_statement():
    join = or_(User.id == Customer.user_id, User.email == Customer.email)
    return (select(Customer.id, User.email).join(User, join)
            .where(among_param(Customer.id, "referrer_ids"), User.role.in_(STAFF_ROLES)))


def _staff_referrers(referrer_ids: list) -> dict[int, str]:
    """The referrers who are staff members' own customer records (linked, or the same email): {id: staff email}."""
    staff = {}
    for chunk in chunks(referrer_ids, CHUNK):
        staff.update(dict(db.session.execute(_staff_statement(), {"referrer_ids": chunk}).all()))
    return staff


@Prebuilt
def _codes_statement():
    return select(Customer.referral_code).where(among_param(Customer.referral_code, "codes"))


def _referrer_codes(codes: list) -> set:
    """Which of these referral codes belong to an enrolled customer."""
    found = set()
    for chunk in chunks(codes, CHUNK):
        found.update(db.session.scalars(_codes_statement(), {"codes": chunk}))
    return found


@Prebuilt
def _cards_statement():
    join = or_(Sale.email == Customer.email, and_(Customer.phone.is_not(None), Sale.phone == Customer.phone))
    return (select(Customer.id, Sale.payment_fingerprint).join(Sale, join)
            .where(among_param(Customer.id, "referrer_ids"), Sale.payment_fingerprint.is_not(None)))


def _referrer_cards(referrer_ids: list) -> dict[int, set]:
    """Payment fingerprints each referrer has paid with (their own sales, by email or phone)."""
    cards: dict[int, set] = {}
    for chunk in chunks(referrer_ids, CHUNK):
        for customer_id, fingerprint in db.session.execute(_cards_statement(), {"referrer_ids": chunk}):
            cards.setdefault(customer_id, set()).add(fingerprint)
    return cards


@Prebuilt
def _latest_decisions_statement():
    newest = (select(db.func.max(Decision.id)).where(among_param(Decision.referral_id, "referral_ids"))
              .group_by(Decision.referral_id))
    return select(Decision.referral_id, Decision.sale_id, Decision.outcome).where(Decision.id.in_(newest))


def _latest_decisions(referral_ids: list) -> dict[int, tuple]:
    latest = {}
    for chunk in chunks(referral_ids, CHUNK):
        for referral_id, sale_id, outcome in db.session.execute(_latest_decisions_statement(),
                                                                {"referral_ids": chunk}):
            latest[referral_id] = (sale_id, outcome)
    return latest


# The guards of _write's updates, kept as objects so that their statements are built once (rewards.bulk).
_STILL_PENDING = Referral.__table__.c.status == "pending"
_NOT_YET_LINKED = Sale.__table__.c.referral_id.is_(None)


def _write(results: list, programs: ProgramsInForce, on_progress=None) -> dict:
    """Decisions, status moves, the sale each referral was proved by, audit events; then the rewards."""
    now = utcnow()
    latest = _latest_decisions([w.referral_id for w in results if w.outcome == "pending"])
    # A pending verdict already recorded for the same sale is not news: re-validation stays quiet.
    new = [w for w in results if w.outcome != "pending" or latest.get(w.referral_id) != (w.sale_id, "pending")]
    moved = [w for w in new if w.outcome != "pending"]
    insert_rows(Decision.__table__, [
        {"referral_id": w.referral_id, "sale_id": w.sale_id, "outcome": w.outcome, "checks": w.checks,
         "reason": None, "decided_by_id": None, "decided_at": now} for w in new])
    update_rows(Referral.__table__, "id", {"updated_at": now},
                [{"id": w.referral_id, "status": w.outcome} for w in moved], where=_STILL_PENDING)
    update_rows(Sale.__table__, "id", {}, [{"id": w.sale_id, "referral_id": w.referral_id}
                                           for w in moved if w.outcome != "rejected"], where=_NOT_YET_LINKED)
    user_id, api_key_id = current_actor()
    insert_rows(AuditEvent.__table__, [
        {"action": f"referral.{w.outcome}", "entity_type": "referrals", "entity_id": w.referral_id,
         "detail": {"sale_id": w.sale_id, "decided_by": "rules"}, "actor_user_id": user_id,
         "actor_api_key_id": api_key_id, "ip": None, "created_at": now} for w in moved])
    _expire_changed(new, moved)
    _announce_reviews([w for w in moved if w.outcome == "review"])
    if on_progress:
        on_progress("decided")
    return _grant([w for w in moved if w.outcome == "qualified"], programs)


def _expire_changed(new: list, moved: list) -> None:
    """The referrals and sales the bulk statements above changed, if this session holds them: read them again.

    Only those: expiring everything would reload the API key, its user, programs... on the next touch.
    """
    session = db.session
    held = {Referral: set(), Sale: set()}
    for cls, identity, _ in session.identity_map.keys():  # a handful at most: look up those, not every verdict
        if cls in held:
            held[cls].add(identity[0])
    if not held[Referral] and not held[Sale]:
        return
    for weighed in new:
        if weighed.referral_id in held[Referral]:
            session.expire(session.identity_map[session.identity_key(Referral, weighed.referral_id)])
    for weighed in moved:
        if weighed.sale_id in held[Sale]:
            session.expire(session.identity_map[session.identity_key(Sale, weighed.sale_id)],
                           ["referral_id", "referral"])


def _announce_reviews(for_review: list) -> None:
    """Tell the rest of the app (the task board) which referrals now wait for a coordinator, and why."""
    reasons = {w.referral_id: " ".join(c["detail"] for c in w.checks if not c["passed"]) for w in for_review}
    for chunk in chunks(list(reasons), CHUNK):
        for referral in db.session.scalars(select(Referral).where(among(Referral.id, chunk))):
            referral_needs_review.send(referral, reason=reasons[referral.id] or None)


def _grant(qualified: list, programs: ProgramsInForce) -> dict:
    """A reward for each referral that just qualified (the programs package's rules, granted in bulk): ids."""
    return grant_rewards([(w.referral_id, w.sale_id) for w in qualified], programs,
                         {w.referral_id: w.referrer_id for w in qualified})


def buyer_filter(email, phone, referral_code):
    """Referrals whose referee may be this buyer: same email, same phone, or the code's referrer; None if none can.

    Each detail is a value (empty: not known) or a bound parameter standing for a known one.
    """
    terms = []
    if _known(email):
        terms.append(Referral.referee_email == email)
    if _known(phone):
        terms.append(Referral.referee_phone == phone)
    if _known(referral_code):
        terms.append(Referral.referrer_id.in_(select(Customer.id).where(Customer.referral_code == referral_code)))
    return or_(*terms) if terms else None


@functools.cache
def _bound_buyer_filter(email: bool, phone: bool, referral_code: bool):
    """buyer_filter() with a bound parameter (b_email, b_phone, b_referral_code) for each detail known: one object
    for each shape of buyer, so that weigh() builds its statements once."""
    return buyer_filter(*(bindparam(f"b_{name}", type_=Sale.__table__.c[name].type) if known else None
                          for name, known in (("email", email), ("phone", phone), ("referral_code", referral_code))))


def _known(detail) -> bool:
    return isinstance(detail, BindParameter) or bool(detail)


def may_prove_a_referral(email, phone, referral_code):
    """SQL: is there a pending referral a sale of this buyer may prove (anything for weigh_sale() to weigh)?

    Asked in the statement that inserts the sale, so the common sale, which proves nothing, costs no query more.
    """
    referral_filter = buyer_filter(email, phone, referral_code)
    if referral_filter is None:
        return false()
    return exists().where(Referral.status == "pending", referral_filter)


def weigh_sale(sale: Sale):
    """Weigh a stored sale against the referrals it may prove; the reward it earned, if any."""
    return weigh_new_sale(sale.id, sale.email, sale.phone, sale.referral_code)[1]


def weigh_new_sale(sale_id: int, email, phone, referral_code) -> tuple[int | None, Reward | None]:
    """Weigh a sale that just landed (by its id and buyer's details, without loading it) against the referrals it
    may prove: (the referral it now belongs to, the reward it earned), each None if none."""
    details = {"b_email": email or None, "b_phone": phone or None, "b_referral_code": referral_code or None}
    referral_filter = _bound_buyer_filter(*(value is not None for value in details.values()))
    if referral_filter is None:
        return None, None
    # A buyer's email or phone names a few referrals; a referral code, every pending one of its referrer.
    results, rewards = weigh(referral_filter, stream=_known(referral_code),
                             params={name: value for name, value in details.items() if value is not None})
    proved = [w for w in results if w.sale_id == sale_id and w.outcome not in ("pending", "rejected")]
    reward_id = next((rewards[w.referral_id] for w in proved if rewards.get(w.referral_id)), None)
    if len(proved) == 1:
        referral_id = proved[0].referral_id  # _write linked the sale to it: it was new, so linked to nothing yet
    else:
        referral_id = db.session.scalar(select(Sale.referral_id).where(Sale.id == sale_id)) if proved else None
    return referral_id, db.session.get(Reward, reward_id) if reward_id is not None else None


def revalidate(since_sale_id: int | None = None, on_progress=None) -> Counter:
    """Re-weigh every pending referral (or those a sale with id >= since_sale_id may prove); counts by outcome."""
    referral_filter = Referral.id.is_not(None)
    if since_sale_id is not None:
        recent = Sale.id >= since_sale_id
        referral_filter = or_(
            Referral.referee_email.in_(select(Sale.email).where(recent)),
            Referral.referee_phone.in_(select(Sale.phone).where(recent, Sale.phone.is_not(None))),
            Referral.referrer_id.in_(select(Customer.id).join(Sale, Sale.referral_code == Customer.referral_code)
                                     .where(recent)))
    started, marks = time.perf_counter(), {}
    without_jit()

    def progress(step):
        if step == "decided":
            marks["decided"] = time.perf_counter()
        elif on_progress:
            on_progress(step)

    with without_gc():
        results, rewards = weigh(referral_filter, progress, stream=True)
    counts = Counter(w.outcome for w in results)
    decided = marks.get("decided", time.perf_counter())
    counts["seconds_deciding"] = round(decided - started, 2)
    counts["seconds_rewarding"] = round(time.perf_counter() - decided, 2)
    counts["rewards"] = sum(1 for reward in rewards.values() if reward is not None)
    return counts


def pending_count() -> int:
    return db.session.scalar(select(db.func.count()).select_from(Referral).where(Referral.status == "pending"))
