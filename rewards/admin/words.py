"""Records said in words for staff pages: a referral's decision and history, sources, audit record types and details."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from rewards.money import format_money

# Where a referral came from, as staff read it.
SOURCE_WORDS = {"portal": "the referrer, in the portal", "link": "the shared link", "api": "an integration (API)",
                "admin": "our team"}

# Audit record types (table names) by the name people use.
RECORD_TYPES = {
    "referrals": "Referral", "customers": "Customer", "rewards": "Reward", "sales": "Sale", "refunds": "Refund",
    "programs": "Program", "tasks": "Task", "task_automations": "Automatic task setting", "users": "User",
    "api_keys": "API key", "payout_batches": "Payout batch", "payout_items": "Payout item",
    "payout_accounts": "Payout account", "referral_notes": "Note",
}
# Detail keys holding an amount in minor units.
AMOUNT_KEYS = {"amount", "from", "to", "total", "net", "minimum_amount", "min_sale_amount", "max_reward_amount",
               "yearly_cap_amount", "referee_credit_amount", "credit"}


def record_type(entity_type: str | None) -> str:
    return RECORD_TYPES.get(entity_type or "", (entity_type or "record").replace("_", " ").capitalize())


def detail_words(detail: dict | None, currency: str | None = None) -> str:
    """An audit event's detail as "amount: 25.00 USD; reason: refund" (amounts in units when a currency is known)."""
    detail = detail or {}
    currency = detail.get("currency") or currency
    parts = []
    for key, value in detail.items():
        if key == "currency" and currency and any(k in AMOUNT_KEYS for k in detail):
            continue
        if key in AMOUNT_KEYS and isinstance(value, int) and not isinstance(value, bool) and currency:
            value = format_money(value, currency)
        elif value is None:
            value = "—"
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "an unknown day"


def _sale_link(sale) -> Markup:
    if sale is None:
        return Markup("a sale")
    return Markup('<a href="#sale-{}">sale {}</a> of {}').format(sale.id, sale.external_id,
                                                                 format_money(sale.amount, sale.currency))


@dataclass
class DecisionView:
    """The referral's state in one sentence, the checks behind it, and who decided when."""

    sentence: Markup
    checks: list
    decided: str | None


def decision_view(referral, decision, sales: list, attribution_days: int | None) -> DecisionView:
    """What the Decision section says: always agrees with the referral's status."""
    sale = next((s for s in sales if decision and s.id == decision.sale_id), None)
    who = (decision.decided_by.email if decision and decision.decided_by else "the rules")
    when = _day(decision.decided_at) if decision else None
    failed = [c["detail"] for c in (decision.checks if decision else []) if not c.get("passed")]
    because = escape(" ".join(failed)) if failed else ""
    status = referral.status
    if status == "qualified":
        if decision and decision.decided_by:
            text = Markup("Qualified: approved by {} on {} after review, with {}.").format(who, when, _sale_link(sale))
        else:
            text = Markup("Qualified on {}: the rules accepted {} and every check passed.").format(
                when or _day(referral.updated_at), _sale_link(sale))
    elif status == "review":
        text = Markup("Waiting for a coordinator: a check flagged {} on {}. {} Approve or reject it in the "
                      '<a href="/admin/review">review queue</a>.').format(_sale_link(sale), when, because)
    elif status == "rejected":
        reason = escape(decision.reason) if decision and decision.reason else because
        text = Markup("Rejected by {} on {}{}").format(who, when or _day(referral.updated_at),
                                                       Markup(": {}").format(reason) if reason else ".")
    elif status == "expired":
        window = f" within the {attribution_days}-day attribution window" if attribution_days else ""
        text = Markup("Expired: no qualifying sale arrived{}.").format(window)
    elif decision:
        text = Markup("Waiting: {} was weighed on {} but does not qualify. {}").format(_sale_link(sale), when,
                                                                                        because)
    else:
        until = (f", until {_day(referral.created_at + timedelta(days=attribution_days))}"
                 if attribution_days else "")
        text = Markup("Waiting for the referee's first purchase{}. No sale has matched yet.").format(until)
    decided = f"Decided by {who} on {when}." if decision and status in ("qualified", "rejected") else None
    return DecisionView(text, list(decision.checks) if decision and status != "expired" else [], decided)


def history_entries(events, sales: list, reward) -> list[dict]:
    """The referral's and its reward's audit events, oldest first, each as a sentence with links to sale and reward."""
    by_id = {s.id: s for s in sales}
    entries = []
    for event, actor in events:
        detail = event.detail or {}
        who = actor or (f"API key #{event.actor_api_key_id}" if event.actor_api_key_id else
                        ("the rules" if detail.get("decided_by") == "rules" else "the system"))
        sale = _sale_link(by_id.get(detail.get("sale_id"))) if detail.get("sale_id") else None
        reward_link, reward_title = (Markup('<a href="#reward">{}</a>').format(w) for w in ("reward", "Reward"))
        currency = detail.get("currency") or (reward.currency if reward else None)
        money = (lambda key: format_money(detail[key], currency) if currency and isinstance(detail.get(key), int)
                 else str(detail.get(key, "")))
        text = {
            "referral.created": lambda: Markup("Referred, through {}.").format(
                SOURCE_WORDS.get(detail.get("source"), "Refero")),
            "referral.qualified": lambda: Markup("Qualified: the rules accepted {}.").format(sale or "a sale"),
            "referral.review": lambda: Markup("Sent to review: a check flagged {}.").format(sale or "a sale"),
            "referral.pending": lambda: Markup("{} was weighed and does not qualify yet.").format(sale or "A sale"),
            "referral.approved": lambda: Markup("Approved after review: qualifies with {}.").format(sale or "its sale"),
            "referral.rejected": lambda: Markup("Rejected{}.").format(
                Markup(": {}").format(detail["reason"]) if detail.get("reason") else
                Markup(" by the rules, with {}").format(sale) if sale else ""),
            "referral.expired": lambda: Markup("Expired: no qualifying sale within {} days.").format(
                detail.get("attribution_days", "the attribution")),
            "referral.note_added": lambda: Markup('<a href="#notes">Note</a> added.'),
            "reward.granted": lambda: Markup("{} of {} granted, on hold until it becomes payable.").format(
                reward_title, money("amount")),
            "reward.reduced": lambda: Markup("{} reduced from {} to {} after a refund.").format(
                reward_title, money("from"), money("to")),
            "reward.reversed": lambda: Markup("{} of {} reversed ({}).").format(
                reward_title, money("amount"), detail.get("reason", "")),
            "reward.clawed_back": lambda: Markup("{} taken back from the paid {} after a refund.").format(
                money("amount"), reward_link),
            "reward.batched": lambda: Markup("{} put in a payout batch.").format(reward_title),
            "reward.paid": lambda: Markup("{} paid out.").format(reward_title),
        }.get(event.action)
        words = text() if text else Markup("{} ({}).").format(event.action, detail_words(detail, currency))
        entries.append({"when": event.created_at, "who": who, "text": words, "action": event.action})
    return entries
