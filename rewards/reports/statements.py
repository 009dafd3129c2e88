"""A referrer's statement for a calendar year: totals per currency and every reward and payout line, by the same
figures as the exports."""
from dataclasses import dataclass, field

from rewards.extensions import db
from rewards.ledger.balances import customer_balances
from rewards.reports import exports

LABELS = {"earn": "Reward earned", "reduce": "Reward reduced (sale partly refunded)",
          "reverse": "Reward reversed (sale refunded)", "clawback": "Taken back after payout (sale refunded)",
          "paid": "Payout", "transfer_reversal": "Payout reversed"}


@dataclass
class Statement:
    year: int
    totals: list = field(default_factory=list)  # rows: currency, rewards_earned, rewards_reversed, paid
    lines: list = field(default_factory=list)   # rows of exports.statement_lines, plus `label`
    now: list = field(default_factory=list)     # the one balance model's Balance per currency, today


def statement(customer_id: int, year: int) -> Statement:
    result = Statement(year)
    result.totals = list(db.session.execute(exports.yearly_totals(year, customer_id)))
    for line in db.session.execute(exports.statement_lines(customer_id, year)):
        result.lines.append({**line._asdict(), "label": LABELS.get(line.kind, line.kind)})
    result.now = customer_balances(customer_id)
    return result
