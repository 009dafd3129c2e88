"""The programs' invariants that `ledger check` proves too: no reward above its per-referral maximum or yearly cap."""
from collections import defaultdict

from rewards.extensions import db
from rewards.ledger.check import register_check
from rewards.programs.models import Program, Reward
from rewards.programs.rules import year_bounds
from rewards.sales.models import Sale


@register_check
def cap_violations() -> list[str]:
    """No reward above its program's per-referral maximum; no referrer's year above the yearly cap in force."""
    problems = []
    running = defaultdict(int)
    rows = db.session.execute(
        db.select(Reward, Program.max_reward_amount, Program.yearly_cap_amount, Sale.occurred_at)
        .join(Program, Program.id == Reward.program_id).join(Sale, Sale.id == Reward.sale_id)
        .order_by(Reward.id).execution_options(yield_per=1000))
    for reward, max_reward, yearly_cap, occurred_at in rows:
        if max_reward is not None and reward.granted_amount > max_reward:
            problems.append(f"reward {reward.id} of {reward.granted_amount} exceeds its program's maximum {max_reward}")
        year_key = (reward.referrer_id, reward.currency, year_bounds(occurred_at)[0].year)
        running[year_key] += reward.value
        # A reward granted at the cap is 0; only a positive one must fit under the cap in force.
        if yearly_cap is not None and reward.value > 0 and running[year_key] > yearly_cap:
            problems.append(f"reward {reward.id} takes customer {reward.referrer_id} to {running[year_key]} in "
                            f"{year_key[2]}, above the yearly cap {yearly_cap}")
    return problems

