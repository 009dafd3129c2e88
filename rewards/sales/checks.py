"""Weighing stored sales against pending referrals: each check with a sentence, the outcome, and attribution (a
sale naming a referral code belongs to that code's referrer; otherwise the earliest referral by email or phone).

One implementation serves a single new sale and a re-validation of every pending referral: one SQL
statement streams the (referral, matching sale) pairs, the rules run over each referral's pairs in
Python, and the results are written back in bulk.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select

from rewards.contacts import canonical_email
from rewards.customers.models import Customer
from rewards.money import format_money
from rewards.programs.granting import ProgramsInForce
from rewards.programs.models import Program
from rewards.programs.rules import qualifies
from rewards.referrals.models import Referral
from rewards.sales.models import Refund, Sale

STREAM_BATCH = 5000


@dataclass(slots=True)
class Weighed:
    """The rules' verdict on one referral (compact: a re-validation holds many of these)."""

    referral_id: int
    created_at: datetime
    referrer_id: int
    buyer_key: str
    sale_id: int
    sale_fingerprint: str | None
    valid: bool
    self_checks: list  # [(passed, detail)] for email and phone; the card is checked once fingerprints are known
    sale_code: str | None = None  # the referral code the proving sale names, if any
    by_code: bool = False  # the proving sale names this referral's referrer's code
    checks: list = field(default_factory=list)
    outcome: str = "pending"


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def pairs_query(referral_filter):
    """(referral, referrer, sale) rows for pending referrals whose referee may be the sale's buyer."""
    r, c, s = Referral.__table__, Customer.__table__, Sale.__table__
    refunded = (select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.sale_id == s.c.id)
                .scalar_subquery())
    match = or_(s.c.email == r.c.referee_email,
                and_(r.c.referee_phone.is_not(None), s.c.phone == r.c.referee_phone),
                s.c.referral_code == c.c.referral_code)
    return (select(r.c.id, r.c.created_at, r.c.referee_email, r.c.referee_phone, r.c.referrer_id,
                   c.c.email, c.c.phone, c.c.referral_code,
                   s.c.id, s.c.external_id, s.c.email, s.c.phone, s.c.amount, s.c.currency, s.c.occurred_at,
                   s.c.referral_code, s.c.payment_fingerprint, refunded)
            .select_from(r.join(c, c.c.id == r.c.referrer_id).join(s, match))
            .where(r.c.status == "pending", referral_filter)
            .order_by(r.c.id, s.c.occurred_at, s.c.id))


def _match_detail(row) -> str | None:
    """How the sale's buyer is the referee, or None when the only link is a code with another buyer."""
    (_, _, ref_email, ref_phone, _, _, _, code, _, _, email, phone, *_rest) = row
    sale_code = row[15]
    if email and email == ref_email:
        return f"The buyer's email {email} is the referee's."
    if ref_phone and phone == ref_phone:
        return f"The buyer's phone {phone} is the referee's."
    if sale_code == code and email and canonical_email(email) == canonical_email(ref_email):
        return f"The sale names the referrer's code and {email} reaches the referee's mailbox {ref_email}."
    return None


def evaluate(rows: list, programs: ProgramsInForce) -> Weighed | None:
    """The rules for one referral over its candidate sales (rows ordered by time); None if none is the referee's."""
    matched = [(row, detail) for row in rows if (detail := _match_detail(row))]
    if not matched:
        return None
    first = matched[0][0]
    referral_id, created_at, _, _, referrer_id, referrer_email, referrer_phone = first[:7]
    earlier = [row for row, _ in matched if row[14] < created_at]
    in_window = []
    for row, detail in matched:
        program = programs.at(row[13], row[14])
        if program and created_at <= row[14] <= created_at + timedelta(days=program.attribution_days):
            in_window.append((row, detail, program))
    proving = next((item for item in in_window if qualifies(item[2], _net(item[0]))), None)
    if proving is None and in_window:
        proving = in_window[-1]
    row, detail, program = proving or (matched[-1][0], matched[-1][1], programs.at(matched[-1][0][13],
                                                                                    matched[-1][0][14]))
    checks = [_check("buyer_matches_referee", True, detail), _window_check(row, created_at, program),
              _new_buyer_check(earlier, created_at), _minimum_check(row, program)]
    return Weighed(referral_id=referral_id, created_at=created_at, referrer_id=referrer_id,
                   buyer_key=row[10] or row[11] or "", sale_id=row[8], sale_fingerprint=row[16],
                   sale_code=row[15], by_code=row[15] is not None and row[15] == row[7],
                   valid=all(check["passed"] for check in checks),
                   self_checks=_self_checks(row, referrer_email, referrer_phone), checks=checks)


def _net(row) -> int:
    return row[12] - row[17]


def _check(name: str, passed: bool, detail: str) -> dict:
    return {"name": name, "passed": bool(passed), "detail": detail}


def _window_check(row, created_at: datetime, program: Program | None) -> dict:
    currency, occurred = row[13], row[14]
    if program is None:
        return _check("attribution_window", False,
                      f"No reward program for {currency.upper()} was in force on {_day(occurred)}.")
    if occurred < created_at:
        return _check("attribution_window", False,
                      f"The sale on {_day(occurred)} happened before the referral was made ({_day(created_at)}).")
    days = (occurred - created_at).days
    if occurred > created_at + timedelta(days=program.attribution_days):
        return _check("attribution_window", False,
                      f"The sale came {days} days after the referral; the program allows "
                      f"{program.attribution_days} days.")
    return _check("attribution_window", True,
                  f"The sale came {days} days after the referral, within the program's "
                  f"{program.attribution_days}-day window.")


def _new_buyer_check(earlier: list, created_at: datetime) -> dict:
    if earlier:
        return _check("new_buyer", False,
                      f"The buyer already bought on {_day(earlier[0][14])} (sale {earlier[0][9]}), before the "
                      f"referral was made on {_day(created_at)}.")
    return _check("new_buyer", True, "The buyer made no purchase before the referral.")


def _minimum_check(row, program: Program | None) -> dict:
    net, currency = _net(row), row[13]
    refunded = " (net of refunds)" if row[17] else ""
    if program is None:
        return _check("minimum_amount", False, "No program in force, so no minimum amount applies.")
    minimum = format_money(program.min_sale_amount, currency)
    if net <= 0 or net < program.min_sale_amount:
        return _check("minimum_amount", False,
                      f"The sale{refunded} of {format_money(max(net, 0), currency)} is below the program's "
                      f"minimum of {minimum}.")
    return _check("minimum_amount", True,
                  f"The sale{refunded} of {format_money(net, currency)} reaches the program's minimum of {minimum}.")


def _self_checks(row, referrer_email: str, referrer_phone: str | None) -> list:
    email, phone = row[10], row[11]
    problems = []
    if email and canonical_email(email) == canonical_email(referrer_email):
        problems.append(f"The buyer's email {email} is the referrer's own mailbox ({referrer_email}).")
    if phone and referrer_phone and phone == referrer_phone:
        problems.append(f"The buyer's phone {phone} is the referrer's phone.")
    return problems


def finish_self_check(weighed: Weighed, referrer_cards: set) -> None:
    """Add the self-referral check (email, phone, card) and settle the outcome."""
    problems = list(weighed.self_checks)
    if weighed.sale_fingerprint and weighed.sale_fingerprint in referrer_cards:
        problems.append("The buyer paid with a card the referrer has used (same payment fingerprint).")
    if problems:
        check = _check("not_self_referral", False, " ".join(problems))
    else:
        check = _check("not_self_referral", True, "Buyer and referrer differ in email, phone and payment card.")
    weighed.checks.append(check)
    weighed.self_checks = []
    if weighed.valid:
        weighed.outcome = "qualified" if check["passed"] else "review"


def staff_check(weighed: Weighed, staff_member: str) -> None:
    """The referrer is a staff member's own customer record: the reward waits for review by someone else."""
    weighed.checks.append(_check("not_staff_referrer", False,
                                 f"The referrer is the customer record of staff member {staff_member}; another "
                                 f"coordinator must review this referral."))
    if weighed.outcome == "qualified":
        weighed.outcome = "review"


def settle_first_referrer(results: list[Weighed], referrer_codes: set | frozenset = frozenset()) -> None:
    """Several referrers, one buyer: who gets the buyer, the others are rejected with the reason.

    A sale that names a referral code belongs to that code's referrer, whatever other referrals name the buyer
    (`referrer_codes`: the codes among the sales that belong to an enrolled customer). Among referrals matched by
    email or phone alone, the earliest valid one wins.
    """
    winners: dict[str, Weighed] = {}
    for weighed in sorted(results, key=lambda w: (not w.by_code, w.created_at, w.referral_id)):
        if weighed.valid and weighed.buyer_key not in winners:
            winners[weighed.buyer_key] = weighed
    for weighed in results:
        winner = winners.get(weighed.buyer_key)
        foreign_code = weighed.sale_code is not None and not weighed.by_code and weighed.sale_code in referrer_codes
        if weighed.by_code and winner is weighed:
            weighed.checks.append(_check("earliest_referral", True,
                                         "The buyer's sale names this referrer's referral code, so it is theirs."))
        elif (winner is not None and winner.by_code and winner is not weighed) or (weighed.valid and foreign_code):
            weighed.outcome = "rejected"
            weighed.checks.append(_check(
                "earliest_referral", False,
                "The buyer's sale names another referrer's referral code; a sale naming a code belongs to that "
                "code's referrer."))
        elif winner is None or winner is weighed:
            weighed.checks.append(_check("earliest_referral", True,
                                         "No earlier referral of this buyer was proved by a sale."))
        else:
            weighed.outcome = "rejected"
            weighed.checks.append(_check(
                "earliest_referral", False,
                f"Referral #{winner.referral_id} by another referrer was made earlier "
                f"({_day(winner.created_at)}) and this buyer's sale proves it; the earliest referral wins."))
