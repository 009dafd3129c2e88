"""Review of referrals: a coordinator approves or rejects a flagged one, the latest decision of a referral, expiry."""
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, insert, select, update

from rewards import audit, events
from rewards.accounts.models import User
from rewards.audit.models import AuditEvent
from rewards.audit.service import current_actor
from rewards.clock import utcnow
from rewards.contacts import canonical_email
from rewards.errors import Conflict, Forbidden, InvalidInput, NotFound
from rewards.extensions import db
from rewards.programs.models import Program, Reward
from rewards.programs import rules
from rewards.programs.granting import grant_reward, years_so_far
from rewards.programs.service import net_amount, program_in_force
from rewards.referrals.models import Referral
from rewards.sales.models import Decision, Sale


def latest_decision(referral_id: int) -> Decision | None:
    return db.session.scalar(select(Decision).filter_by(referral_id=referral_id).order_by(Decision.id.desc())
                             .limit(1))


def latest_decisions(referral_ids: list) -> dict[int, Decision]:
    """The newest decision of each referral, in one query (the review queue lists many)."""
    if not referral_ids:
        return {}
    newest = select(db.func.max(Decision.id)).where(Decision.referral_id.in_(referral_ids)).group_by(
        Decision.referral_id)
    return {d.referral_id: d for d in db.session.scalars(select(Decision).where(Decision.id.in_(newest)))}


def review_queue_query():
    """Referrals a fraud check flagged, oldest first: the coordinator decides them."""
    return select(Referral).where(Referral.status == "review").order_by(Referral.updated_at, Referral.id)


def _locked(referral_id: int) -> Referral:
    referral = db.session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update())
    if referral is None:
        raise NotFound("No such referral.")
    db.session.refresh(referral)
    return referral


def is_party_to(user: User, referral: Referral) -> bool:
    """Whether the staff user is the referral's referrer or referee: by their customer record, or the same
    normalised email (mailbox) or phone."""
    referrer = referral.referrer
    own = user.customer
    if referrer.user_id == user.id or (own is not None and own.id == referrer.id):
        return True
    mailboxes = {canonical_email(user.email)} | ({canonical_email(own.email)} if own is not None else set())
    phones = {own.phone} if own is not None and own.phone else set()
    return bool({canonical_email(referrer.email), canonical_email(referral.referee_email)} & mailboxes
                or {referrer.phone, referral.referee_phone} & phones)


def _check_not_party(referral: Referral, user: User) -> None:
    if is_party_to(user, referral):
        raise Forbidden("You are the referrer or the referee of this referral: another coordinator must decide it.")


def approve_referral(referral_id: int, user: User) -> tuple[Referral, Reward | None]:
    """A coordinator approves a flagged referral (not committed): it qualifies and earns its reward."""
    referral = _locked(referral_id)
    _check_not_party(referral, user)
    if referral.status != "review" or not referral.can_move_to("qualified"):
        raise Conflict(f"Only a referral in review can be approved; this one is {referral.status}.")
    previous = latest_decision(referral.id)
    sale = db.session.get(Sale, previous.sale_id) if previous and previous.sale_id else None
    if sale is None:
        raise Conflict("This referral has no sale to qualify with.")
    referral.status = "qualified"
    db.session.add(Decision(referral_id=referral.id, sale_id=sale.id, outcome="qualified",
                            checks=previous.checks, decided_by_id=user.id,
                            reason="Approved by a coordinator after review."))
    audit.record("referral.approved", referral, {"sale_id": sale.id})
    db.session.flush()
    reward = grant_reward(referral, sale)
    events.referral_decided.send(referral, outcome="qualified")
    return referral, reward


def reject_referral(referral_id: int, user: User, reason: str) -> Referral:
    """A coordinator rejects a referral with a reason (not committed)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason for rejecting.", "reason")
    referral = _locked(referral_id)
    _check_not_party(referral, user)
    if not referral.can_move_to("rejected"):
        raise Conflict(f"A referral that is {referral.status} cannot be rejected.")
    previous = latest_decision(referral.id)
    referral.status = "rejected"
    db.session.add(Decision(referral_id=referral.id, sale_id=previous.sale_id if previous else None,
                            outcome="rejected", checks=previous.checks if previous else [],
                            decided_by_id=user.id, reason=reason))
    audit.record("referral.rejected", referral, {"reason": reason})
    db.session.flush()
    events.referral_decided.send(referral, outcome="rejected")
    return referral


def decide_many(referral_ids: list[int], action: str, user: User, reason: str | None = None):
    """Approve or reject each referral (not committed), each in a savepoint: ([ids decided], [(id, why not)])."""
    done, refused = [], []
    for referral_id in referral_ids:
        try:
            with db.session.begin_nested():
                if action == "approve":
                    approve_referral(referral_id, user)
                else:
                    reject_referral(referral_id, user, reason)
        except (Conflict, InvalidInput, NotFound) as exc:
            refused.append((referral_id, exc.message))
        else:
            done.append(referral_id)
    return done, refused


@dataclass
class ReviewCase:
    """What the coordinator weighs for one flagged referral: its sale and the reward at stake."""

    sale: Sale | None
    at_stake: int | None
    currency: str | None


def review_cases(referrals: list[Referral], decisions: dict[int, Decision]) -> dict[int, ReviewCase]:
    """For the queue's page: each referral's matched sale and what approving it would grant today."""
    cases = {}
    for referral in referrals:
        decision = decisions.get(referral.id)
        sale = db.session.get(Sale, decision.sale_id) if decision and decision.sale_id else None
        granted = reward_at_stake(referral.referrer_id, sale) if sale else None
        cases[referral.id] = ReviewCase(sale, granted.amount if granted else None, sale.currency if sale else None)
    return cases


def reward_at_stake(referrer_id: int, sale: Sale) -> "rules.Granted | None":
    """What approving would grant today: the one reward rule (rules.grant) on the referrer's year so far."""
    year = (referrer_id, sale.currency, rules.year_bounds(sale.occurred_at)[0])
    return rules.grant(program_in_force(sale.currency, sale.occurred_at), net_amount(sale), bool(sale.refunds),
                       years_so_far({year})[year])


def expire_referrals(now=None) -> int:
    """Pending referrals past every program's attribution window become expired (not committed); how many."""
    now = now or utcnow()
    longest = db.session.scalar(select(db.func.max(Program.attribution_days)).where(Program.active.is_(True)))
    if longest is None:
        return 0
    query = (select(Referral.id).where(Referral.status == "pending",
                                       Referral.created_at < now - timedelta(days=longest)))
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    if not ids:
        return 0
    table = Referral.__table__
    db.session.execute(update(table).where(table.c.id == bindparam("rid"), table.c.status == "pending")
                       .values(status="expired", updated_at=now), [{"rid": rid} for rid in ids])
    user_id, api_key_id = current_actor()
    db.session.execute(insert(AuditEvent.__table__), [
        {"action": "referral.expired", "entity_type": "referrals", "entity_id": rid,
         "detail": {"attribution_days": longest}, "actor_user_id": user_id, "actor_api_key_id": api_key_id,
         "ip": None, "created_at": now} for rid in ids])
    db.session.expire_all()
    return len(ids)
