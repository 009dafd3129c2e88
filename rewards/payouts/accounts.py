"""Payout accounts: Stripe Connect Express onboarding, attaching an existing account, readiness from Stripe."""
from datetime import datetime, timezone

from rewards import audit
from rewards.clock import utcnow
from rewards.customers.models import Customer
from rewards.errors import Conflict, Forbidden, NotFound
from rewards.extensions import db
from rewards.payouts import stripe_client
from rewards.payouts.models import PayoutAccount


def payout_account(customer_id: int) -> PayoutAccount | None:
    return db.session.scalar(db.select(PayoutAccount).filter_by(customer_id=customer_id))


def email_confirmed(customer: Customer) -> bool:
    """Whether the customer's address is confirmed; without an email-confirmation feature every address counts."""
    user = customer.user
    confirmed = getattr(user, "email_confirmed_at", None) if user is not None else None
    if user is not None and hasattr(user, "email_confirmed_at"):
        return confirmed is not None
    return True


def apply_account_state(account: PayoutAccount, stripe_account: dict, at: datetime) -> bool:
    """Copy Stripe's readiness onto the row unless what is stored is newer; True when applied."""
    if account.state_at is not None and at < account.state_at:
        return False
    requirements = stripe_account.get("requirements") or {}
    was_ready = account.ready
    account.payouts_enabled = bool(stripe_account.get("payouts_enabled"))
    account.transfers_capability = str((stripe_account.get("capabilities") or {}).get("transfers") or "inactive")
    account.details_submitted = bool(stripe_account.get("details_submitted"))
    account.requirements_due = sorted(set(requirements.get("currently_due") or [])
                                      | set(requirements.get("past_due") or []))
    account.disabled_reason = requirements.get("disabled_reason")
    account.state_at = at
    if account.ready != was_ready:
        audit.record("payout_account.ready" if account.ready else "payout_account.not_ready", account,
                     {"stripe_account_id": account.stripe_account_id})
    return True


def attach_account(customer: Customer, stripe_account_id: str) -> PayoutAccount:
    """Finance attaches an existing connected account (not committed), checked with Stripe first."""
    stripe_account_id = (stripe_account_id or "").strip()
    owner = db.session.scalar(db.select(PayoutAccount).filter_by(stripe_account_id=stripe_account_id))
    if owner is not None and owner.customer_id != customer.id:
        raise Conflict("That Stripe account is another customer's payout account.", "stripe_account_id")
    remote = stripe_client.client().retrieve_account(stripe_account_id)
    account = payout_account(customer.id)
    if account is None:
        account = PayoutAccount(customer_id=customer.id, stripe_account_id=remote["id"])
        db.session.add(account)
    elif account.stripe_account_id != remote["id"]:
        account.stripe_account_id, account.state_at = remote["id"], None
    apply_account_state(account, remote, utcnow())
    db.session.flush()
    audit.record("payout_account.attached", account, {"stripe_account_id": account.stripe_account_id,
                                                      "customer_id": customer.id})
    return account


def start_onboarding(customer: Customer, refresh_url: str, return_url: str) -> str:
    """The customer's Stripe onboarding link; an Express account with the transfers capability is made on first use.

    The new account is committed before the link is asked for, so a failed link call never loses the account.
    """
    if not email_confirmed(customer):
        raise Forbidden("Confirm your email address before connecting a payout account.")
    stripe = stripe_client.client()
    account = payout_account(customer.id)
    if account is None:
        remote = stripe.create_express_account(customer.email, customer.id)
        account = PayoutAccount(customer_id=customer.id, stripe_account_id=remote["id"])
        db.session.add(account)
        apply_account_state(account, remote, utcnow())
        audit.record("payout_account.created", account, {"stripe_account_id": remote["id"]})
        db.session.commit()
    return stripe.onboarding_link(account.stripe_account_id, refresh_url, return_url)


def refresh_account(customer_id: int) -> PayoutAccount:
    """Read the account's readiness from Stripe now (the return page does, before any webhook arrives)."""
    account = payout_account(customer_id)
    if account is None:
        raise NotFound("No payout account.")
    apply_account_state(account, stripe_client.client().retrieve_account(account.stripe_account_id), utcnow())
    return account


def dashboard_link(customer_id: int) -> str:
    account = payout_account(customer_id)
    if account is None:
        raise NotFound("No payout account.")
    return stripe_client.client().dashboard_link(account.stripe_account_id)


def on_account_updated(event: dict) -> None:
    """`account.updated` from the Connect endpoint: newer readiness for an account we know; others ignored."""
    remote = (event.get("data") or {}).get("object") or {}
    account = db.session.scalar(db.select(PayoutAccount).filter_by(stripe_account_id=remote.get("id")
                                                                   or event.get("account")).with_for_update())
    if account is None:
        return
    apply_account_state(account, remote, datetime.fromtimestamp(int(event.get("created") or 0), timezone.utc))
