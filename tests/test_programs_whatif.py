"""What-if with the rules in force reproduces the real rewards, cent for cent: it replays grants and refunds
in the order they happened through the same rule (rewards.programs.rules) as the real grants."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewards.extensions import db
from rewards.programs.service import program_in_force
from rewards.programs.whatif import what_if
from rewards.sales.models import Sale
from rewards.sales.service import record_refund, record_sale
from tests import factories
from tests.conftest import _empty_all_tables

JAN = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _sale(referrer, amount, day, refunds=()):
    """A referral made the day before, then its sale through the API's door (weighed and granted there)."""
    occurred_at = JAN + timedelta(days=day, hours=12)
    referral = factories.referral(referrer, created_at=occurred_at - timedelta(days=1))
    recorded = record_sale({"external_id": f"s-{referral.id}", "email": referral.referee_email,
                            "amount": amount, "currency": "usd", "occurred_at": occurred_at.isoformat()}, "api")
    db.session.commit()
    sale = db.session.get(Sale, recorded.id)
    for number, refunded in enumerate(refunds):
        _refund(sale, refunded, number)
    return sale


def _refund(sale, amount, number=0):
    record_refund(sale.external_id, f"r-{sale.id}-{number}", amount, "api")
    db.session.commit()


def _in_force_over_2026():
    return what_if(program_in_force("usd", JAN), date(2026, 1, 1), date(2026, 12, 31))


def test_a_reward_reversed_at_grant_does_not_count_toward_a_tier(app):
    """The case that showed 5000 vs 100: a reward the rules made 0 on a refunded sale is reversed, so the
    referrer's next referral is their first of the year, at the base rate, and not the tier's 5000."""
    factories.program(reward_type="percent", percent="1", tiers=[{"from_referral": 2, "amount": 5000}])
    rita = factories.customer()
    tiny = _sale(rita, 100, day=10)
    _refund(tiny, 50)  # 1 % of the 50 left is 0.50, rounded half-even to 0: the reward is reversed
    _sale(rita, 10000, day=20)

    result = _in_force_over_2026()

    assert result["actual"] == {"qualified": 2, "rewards": 1, "cost": 100}
    assert result["candidate"] == result["actual"]


def test_a_tier_a_yearly_cap_and_a_refund_replayed_in_order(app):
    """A refund lands between two grants: the later grant saw the year after the refund, and so does what-if."""
    factories.program(amount=5000, yearly_cap_amount=12000, tiers=[{"from_referral": 3, "amount": 6000}])
    rita = factories.customer()
    first = _sale(rita, 30000, day=1)
    _sale(rita, 30000, day=2)
    _refund(first, 30000)  # reversed: rita's year is one reward (5000) again
    _sale(rita, 30000, day=3)  # the second standing reward: 5000
    _sale(rita, 30000, day=4)  # the third: the tier's 6000, cut by the cap to 2000

    result = _in_force_over_2026()

    assert result["actual"]["cost"] == 5000 + 5000 + 2000
    assert result["candidate"] == result["actual"]


def test_a_candidate_with_other_rules_replays_the_same_history(app):
    factories.program(amount=1000)
    rita = factories.customer()
    for day in (1, 2, 3):
        _sale(rita, 20000, day=day)
    candidate = factories.program(amount=1000, effective_from=datetime(2030, 1, 1, tzinfo=timezone.utc),
                                  tiers=[{"from_referral": 2, "amount": 1500}], yearly_cap_amount=3000)

    result = what_if(candidate, date(2026, 1, 1), date(2026, 12, 31))

    assert result["actual"]["cost"] == 3000
    assert result["candidate"] == {"qualified": 3, "rewards": 3, "cost": 1000 + 1500 + 500}


rules = st.fixed_dictionaries({
    "flat": st.booleans(), "amount": st.integers(1, 5000),
    "percent": st.decimals(min_value=Decimal("0.5"), max_value=Decimal("30"), places=1),
    "min_sale_amount": st.integers(0, 3000), "max_reward_amount": st.none() | st.integers(1, 6000),
    "yearly_cap_amount": st.none() | st.integers(1, 15000),
    "tiers": st.lists(st.tuples(st.integers(2, 5), st.integers(1, 7000)), max_size=2, unique_by=lambda t: t[0]),
})
# Sales in arrival order: (referrer, amount, day of the year it happened, refunds), each refund arriving
# after so many more sales (0-3) and taking a share (%) of what is left of the sale.
history = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 60000), st.integers(0, 360),
                             st.lists(st.tuples(st.integers(0, 3), st.integers(1, 100)), max_size=2)),
                   min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rules=rules, history=history)
def test_what_if_with_the_rules_in_force_equals_the_real_rewards(app, rules, history):
    db.session.remove()
    _empty_all_tables()
    flat = rules["flat"] or (rules["max_reward_amount"] is not None and rules["amount"] > rules["max_reward_amount"])
    factories.program(reward_type="flat" if flat else "percent",
                      amount=min(rules["amount"], rules["max_reward_amount"] or rules["amount"]) if flat else None,
                      percent=None if flat else str(rules["percent"]), min_sale_amount=rules["min_sale_amount"],
                      max_reward_amount=rules["max_reward_amount"], yearly_cap_amount=rules["yearly_cap_amount"],
                      tiers=[{"from_referral": n, "amount": a} for n, a in rules["tiers"]])
    referrers = [factories.customer() for _ in range(3)]
    waiting, number = [], 0  # refunds arrive between later sales, in any order

    def refund_due(position):
        nonlocal number
        for item in [item for item in waiting if item[0] <= position]:
            waiting.remove(item)
            _, sale, share = item
            left = sale.amount - sale.refunded_amount
            if left * share // 100 > 0:
                number += 1
                _refund(sale, left * share // 100, number)

    for position, (who, amount, day, refunds) in enumerate(history):
        sale = _sale(referrers[who], amount, day)
        waiting += [(position + delay, sale, share) for delay, share in refunds]
        refund_due(position)
    refund_due(len(history) + 3)

    result = _in_force_over_2026()

    assert result["candidate"] == result["actual"]
