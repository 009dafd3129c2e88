"""Granting many rewards at once (a re-validation): the same amounts as grant_reward, in a few statements.

grant_reward() asks the database for the program, the referrer's year so far and the ledger accounts,
then posts one transaction, for every referral. Here each of those is asked once for all the referrals:
referrers are locked in id order, the referrer's year (count and value of standing rewards) is carried
forward in memory in the order the referrals are given, exactly as one-by-one grants would see it, and
rewards, ledger transactions, entries and audit events are written in bulk (rewards.bulk: COPY on PostgreSQL).
"""
import bisect
from datetime import datetime, timedelta

from flask import has_request_context, request
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from rewards import events
from rewards.audit.models import AuditEvent
from rewards.audit.service import current_actor
from rewards.bulk import among, chunks, insert_rows
from rewards.clock import utcnow
from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction
from rewards.ledger.service import account_key, get_account
from rewards.programs.models import Program, Reward
from rewards.programs.rules import qualifies, rule_amount, tier_for, within_yearly_cap, year_bounds
from rewards.programs.service import grant_reward, on_sale_refunded, program_in_force, reward_value_sql
from rewards.referrals.models import Referral
from rewards.sales.models import Refund, Sale

CHUNK = 5000


class ProgramsInForce:
    """program_in_force(), asked once per program version rather than once per sale (tiers loaded)."""

    def __init__(self):
        self._starts: dict[str, list[datetime]] = {}
        self._cache: dict[tuple, Program | None] = {}

    def at(self, currency: str, when: datetime) -> Program | None:
        starts = self._starts.get(currency)
        if starts is None:
            starts = sorted(db.session.scalars(select(Program.effective_from).where(Program.currency == currency)))
            self._starts[currency] = starts
        index = bisect.bisect_right(starts, when)
        if index == 0:
            return None
        key = (currency, starts[index - 1])
        if key not in self._cache:
            program = program_in_force(currency, starts[index - 1])
            if program is not None:
                program.tiers  # loaded once here rather than on the first reward it computes
            self._cache[key] = program
        return self._cache[key]


def _referrers(referral_ids: list[int]) -> dict[int, int]:
    referrers = {}
    for chunk in chunks(referral_ids, CHUNK):
        referrers.update(db.session.execute(select(Referral.id, Referral.referrer_id)
                                            .where(among(Referral.id, chunk))).all())
    return referrers


def _facts(pairs: list[tuple[int, int]], referrers: dict[int, int]) -> dict[int, tuple]:
    """{referral_id: (referrer_id, sale_id, amount, refunded, refund_count, currency, occurred_at)}."""
    facts = {}
    for chunk in chunks(pairs, CHUNK):
        sale_ids = {sale_id for _, sale_id in chunk}
        refunds = (select(Refund.sale_id, func.sum(Refund.amount).label("total"), func.count().label("n"))
                   .where(among(Refund.sale_id, sale_ids)).group_by(Refund.sale_id).subquery())
        rows = {row[0]: row[1:] for row in db.session.execute(
            select(Sale.id, Sale.amount, func.coalesce(refunds.c.total, 0), func.coalesce(refunds.c.n, 0),
                   Sale.currency, Sale.occurred_at)
            .outerjoin(refunds, refunds.c.sale_id == Sale.id).where(among(Sale.id, sale_ids)))}
        for referral_id, sale_id in chunk:
            facts[referral_id] = (referrers[referral_id], sale_id, *rows[sale_id])
    return facts


def _lock_referrers(referrer_ids: list[int]) -> None:
    """Lock every referrer concerned, in id order (so two bulk grants never deadlock), as lock_referrer does."""
    if db.engine.dialect.name != "postgresql":
        return
    for chunk in chunks(referrer_ids, CHUNK):
        db.session.execute(select(Customer.id).where(among(Customer.id, chunk)).order_by(Customer.id).with_for_update())


def _existing(referral_ids: list[int]) -> dict[int, int]:
    found = {}
    for chunk in chunks(referral_ids, CHUNK):
        found.update(db.session.execute(select(Reward.referral_id, Reward.id).where(among(Reward.referral_id, chunk))).all())
    return found


def _years_so_far(keys: set[tuple]) -> dict[tuple, list[int]]:
    """{(referrer_id, currency, year start): [standing rewards, value earned]}, as referrer_year() counts them."""
    years = {key: [0, 0] for key in keys}
    by_period: dict[tuple, list[int]] = {}
    for referrer_id, currency, year in keys:
        by_period.setdefault((currency, year), []).append(referrer_id)
    for (currency, year), referrer_ids in by_period.items():
        start, end = year, year.replace(year=year.year + 1)
        for chunk in chunks(sorted(referrer_ids), CHUNK):
            rows = db.session.execute(
                select(Reward.referrer_id, func.count(Reward.id).filter(Reward.status != "reversed"),
                       func.coalesce(func.sum(reward_value_sql()), 0))
                .join(Sale, Sale.id == Reward.sale_id)
                .where(among(Reward.referrer_id, chunk), Reward.currency == currency,
                       Sale.occurred_at >= start, Sale.occurred_at < end)
                .group_by(Reward.referrer_id))
            for referrer_id, count, total in rows:
                years[(referrer_id, currency, year)] = [int(count), int(total)]
    return years



def _compute(pairs: list[tuple[int, int]], facts: dict, programs: ProgramsInForce) -> list[dict]:
    """The reward rows grant_reward (and on_sale_refunded after it) would add, in the order given."""
    years = _years_so_far({(facts[rid][0], facts[rid][5], year_bounds(facts[rid][6])[0]) for rid, _ in pairs})
    rows = []
    for referral_id, _ in pairs:
        referrer_id, sale_id, amount, refunded, refund_count, currency, occurred_at = facts[referral_id]
        program, net = programs.at(currency, occurred_at), amount - refunded
        if program is None or not qualifies(program, net):
            continue
        year = years[(referrer_id, currency, year_bounds(occurred_at)[0])]
        tier = tier_for(program, year[0] + 1)
        value = within_yearly_cap(program, rule_amount(program, tier, net), year[1])
        # on_sale_refunded() right after the grant leaves the amount as it is (it was computed on the net
        # sale) but reverses a reward the yearly cap cut to nothing; a reversed reward counts for nothing.
        reversed_ = bool(refund_count) and value == 0
        if not reversed_:
            year[0] += 1
            year[1] += value
        rows.append({"referral_id": referral_id, "referrer_id": referrer_id, "sale_id": sale_id,
                     "program_id": program.id, "amount": value, "granted_amount": value, "clawback_amount": 0,
                     "tier_from_referral": tier.from_referral if tier else None, "currency": currency,
                     "status": "reversed" if reversed_ else "held",
                     "payable_at": occurred_at + timedelta(days=program.hold_days),
                     "reversed_reason": "The sale was refunded." if reversed_ else None,
                     "referee_coupon_code": program.referee_coupon_code,
                     "referee_credit_amount": program.referee_credit_amount})
    return rows


def _accounts(rows: list[dict]) -> dict[str, int]:
    """{key: account id} of the expense and earned accounts the rows post to, created on first use."""
    wanted: dict[str, tuple] = {}
    for row in rows:
        wanted.setdefault(account_key("reward_expense", row["currency"]), ("reward_expense", row["currency"], None))
        wanted.setdefault(account_key("referrer_earned", row["currency"], row["referrer_id"]),
                          ("referrer_earned", row["currency"], row["referrer_id"]))
    found = {}
    for chunk in chunks(list(wanted), CHUNK):
        found.update(db.session.execute(select(Account.key, Account.id).where(among(Account.key, chunk))).all())
    missing = [key for key in wanted if key not in found]
    if missing:
        now = utcnow()
        try:
            with db.session.begin_nested():
                found.update(zip(missing, insert_rows(Account.__table__, [
                    {"key": key, "kind": wanted[key][0], "currency": wanted[key][1], "customer_id": wanted[key][2],
                     "created_at": now} for key in missing], ids=True)))
        except IntegrityError:  # another worker created one of them meanwhile: take them one by one
            found.update((key, get_account(*wanted[key]).id) for key in missing)
    return found


def _post_earned(rows: list[dict], reward_ids: list[int]) -> None:
    """One `earn` transaction per reward worth something (expense → referrer earned), as post_earned does."""
    earning = [(row, reward_id) for row, reward_id in zip(rows, reward_ids) if row["amount"]]
    if not earning:
        return
    accounts, now = _accounts([row for row, _ in earning]), utcnow()
    transaction_ids = insert_rows(LedgerTransaction.__table__, [{"kind": "earn", "memo": f"reward {reward_id} earned", "customer_id": row["referrer_id"],
          "idempotency_key": None, "created_at": now} for row, reward_id in earning], ids=True)
    entries = []
    for (row, reward_id), transaction_id in zip(earning, transaction_ids):
        currency, amount = row["currency"], row["amount"]
        entries.append({"transaction_id": transaction_id, "account_id": accounts[account_key("reward_expense", currency)],
                        "currency": currency, "amount": -amount, "reward_id": reward_id})
        entries.append({"transaction_id": transaction_id, "currency": currency, "amount": amount,
                        "account_id": accounts[account_key("referrer_earned", currency, row["referrer_id"])],
                        "reward_id": reward_id})
    insert_rows(LedgerEntry.__table__, entries)


def _audit(rows: list[dict], reward_ids: list[int]) -> None:
    """reward.granted for each reward (and reward.reversed for those a refund reversed), as grant_reward records."""
    user_id, api_key_id = current_actor()
    ip, now = request.remote_addr if has_request_context() else None, utcnow()
    events = []
    for row, reward_id in zip(rows, reward_ids):
        events.append(("reward.granted", reward_id, {"amount": row["amount"], "currency": row["currency"],
                                                    "program_id": row["program_id"],
                                                    "tier": row["tier_from_referral"]}))
        if row["status"] == "reversed":
            events.append(("reward.reversed", reward_id, {"reason": "refund", "amount": 0}))
    insert_rows(AuditEvent.__table__, [
        {"action": action, "entity_type": "rewards", "entity_id": reward_id, "detail": detail,
         "actor_user_id": user_id, "actor_api_key_id": api_key_id, "ip": ip, "created_at": now}
        for action, reward_id, detail in events])


def grant_rewards(pairs: list[tuple[int, int]]) -> dict[int, int | None]:
    """Rewards for referrals that just qualified, as (referral_id, sale_id) pairs in order (not committed).

    The same rewards, ledger postings and audit events as grant_reward() called for each pair in that
    order; returns {referral_id: reward id, or None without a program or below its minimum}.
    Idempotent: a referral that already has a reward keeps it.
    """
    if not pairs:
        return {}
    db.session.flush()
    referrers = _referrers([referral_id for referral_id, _ in pairs])
    _lock_referrers(sorted(set(referrers.values())))
    # Read after the locks: a refund recorded meanwhile is either seen here or waits to adjust our reward.
    result: dict[int, int | None] = {referral_id: None for referral_id, _ in pairs}
    existing = _existing(list(result))
    result.update(existing)
    todo = [pair for pair in pairs if pair[0] not in existing]
    rows = _compute(todo, _facts(todo, referrers), ProgramsInForce())
    if not rows:
        return result
    now = utcnow()
    try:
        with db.session.begin_nested():
            reward_ids = insert_rows(Reward.__table__, [{**row, "created_at": now} for row in rows], ids=True)
    except IntegrityError:
        # Another worker granted one of them between our check and insert (SQLite has no row lock to wait on).
        return {**result, **_one_by_one(todo)}
    result.update(zip((row["referral_id"] for row in rows), reward_ids))
    _post_earned(rows, reward_ids)
    _audit(rows, reward_ids)
    events.rewards_granted.send(None, reward_ids=[reward_id for row, reward_id in zip(rows, reward_ids)
                                                  if row["status"] != "reversed"])
    return result


def _one_by_one(pairs: list[tuple[int, int]]) -> dict[int, int | None]:
    granted = {}
    for referral_id, sale_id in pairs:
        sale = db.session.get(Sale, sale_id)
        reward = grant_reward(db.session.get(Referral, referral_id), sale)
        if reward is not None and sale.refunds:
            on_sale_refunded(sale)
        granted[referral_id] = reward.id if reward is not None else None
    return granted
