"""The one door to Stripe: the official SDK's StripeClient, paced under the rate limit, answers sorted into outcomes."""
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import stripe
from flask import current_app

from rewards.bounds import MAX_TIME, MIN_TIME
from rewards.errors import DomainError

# Stripe's documented limits: 25 requests/s in test mode, 100/s live. Pacing keeps us under them.
DEFAULT_RATE = {"test": 25.0, "live": 100.0}


class NotConfigured(DomainError):
    """STRIPE_SECRET_KEY is not set: Stripe actions cannot run (manual payments still can)."""

    status = 503

    def __init__(self):
        super().__init__("Stripe is not configured: set STRIPE_SECRET_KEY to use Stripe.")


class StripeRefused(DomainError):
    """Stripe answered an account or link request with an error the person can act on."""

    status = 422


class Pacer:
    """Spaces requests at least 1/rate apart (no bursts), and holds everyone back after a Retry-After."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate
        self.lock = threading.Lock()
        self.next_at = 0.0

    def wait(self):
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_at)
            self.next_at = at + self.interval
        if at > now:
            time.sleep(at - now)

    def back_off(self, seconds: float):
        with self.lock:
            self.next_at = max(self.next_at, time.monotonic() + seconds)


def created_time(stripe_object: dict) -> datetime | None:
    """Stripe's `created` of an object (Unix seconds) as an aware UTC datetime; None when it has none (or one out
    of rewards.bounds)."""
    created = stripe_object.get("created")
    if isinstance(created, bool) or not isinstance(created, int) \
            or not MIN_TIME.timestamp() < created <= MAX_TIME.timestamp():
        return None
    return datetime.fromtimestamp(created, timezone.utc)


def is_configured() -> bool:
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def _mode(key: str) -> str:
    return "live" if key.startswith(("sk_live", "rk_live")) else "test"


def client() -> "PacedStripe":
    """This app's paced Stripe client (one per app and key); NotConfigured without STRIPE_SECRET_KEY."""
    key = current_app.config.get("STRIPE_SECRET_KEY")
    if not key:
        raise NotConfigured()
    cached = current_app.extensions.get("payouts_stripe")
    if cached is None or cached.key != key:
        rate = current_app.config.get("STRIPE_MAX_REQUESTS_PER_SECOND") or DEFAULT_RATE[_mode(key)]
        cached = PacedStripe(key, current_app.config.get("STRIPE_API_BASE"), float(rate),
                             float(current_app.config.get("STRIPE_TIMEOUT_SECONDS") or 30))
        current_app.extensions["payouts_stripe"] = cached
    return cached


@dataclass
class Outcome:
    """How a transfer call ended: `ok` (transfer), `error` (Stripe answered with an error, which it keeps for this
    key), `retry` (no answer, or one Stripe does not keep: timeout, dropped connection, 429, 409; same key again)."""

    kind: str
    transfer: dict | None = None
    code: str | None = None
    message: str | None = None
    transient: bool = False
    retry_after: float | None = None


def _retry_after(error: stripe.StripeError) -> float | None:
    value = (error.headers or {}).get("Retry-After") if error.headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def outcome_of_error(error: Exception) -> Outcome:
    """Sort an SDK exception: what Stripe keeps under the key (`error`) from what it does not (`retry`)."""
    if isinstance(error, stripe.APIConnectionError):
        return Outcome("retry", code="connection_error", message=f"No answer from Stripe: {error.user_message or error}",
                       transient=True)
    if isinstance(error, stripe.RateLimitError):
        return Outcome("retry", code=error.code or "rate_limit", message=error.user_message or str(error),
                       transient=True, retry_after=_retry_after(error))
    if isinstance(error, stripe.StripeError):
        status = error.http_status or 0
        code = error.code or (error.error.type if error.error else None) or f"http_{status}"
        message = error.user_message or str(error)
        if status == 409:  # another request with this key is still running: nothing is kept, ask again
            return Outcome("retry", code="idempotency_in_progress", message=message, transient=True)
        return Outcome("error", code=code, message=message, transient=status >= 500 or status == 0)
    raise error


class PacedStripe:
    """StripeClient with our pacing and timeout; the SDK's own retries are off, the executor decides."""

    def __init__(self, key: str, api_base: str | None, rate: float, timeout: float):
        self.key = key
        bases = {"api": api_base, "connect": api_base} if api_base else None
        self.stripe = stripe.StripeClient(key, base_addresses=bases, max_network_retries=0,
                                          http_client=stripe.RequestsClient(timeout=timeout))
        self.pacer = Pacer(rate)

    def _call(self, function, *args, **kwargs):
        self.pacer.wait()
        try:
            return function(*args, **kwargs)
        except stripe.RateLimitError as error:
            self.pacer.back_off(_retry_after(error) or 1.0)
            raise

    # Transfers, for the executor: never raise, answer an Outcome.
    def create_transfer(self, params: dict, idempotency_key: str) -> Outcome:
        try:
            transfer = self._call(self.stripe.v1.transfers.create, params, {"idempotency_key": idempotency_key})
        except Exception as error:  # noqa: BLE001  (sorted, or re-raised when it is not Stripe's)
            return outcome_of_error(error)
        return Outcome("ok", transfer=transfer.to_dict())

    def transfers_in_group(self, transfer_group: str) -> list[dict] | Outcome:
        """Every transfer Stripe lists for the group (at most a few), or the Outcome of a failed call."""
        try:
            page = self._call(self.stripe.v1.transfers.list, {"transfer_group": transfer_group, "limit": 10})
        except Exception as error:  # noqa: BLE001
            return outcome_of_error(error)
        return [t.to_dict() for t in page.data]

    # Accounts, for pages and the API: errors become exceptions a person reads.
    def _account_call(self, function, *args):
        try:
            return self._call(function, *args).to_dict()
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing" or error.http_status == 404:
                raise StripeRefused("Stripe knows no such connected account.", "stripe_account_id") from error
            raise StripeRefused(f"Stripe refused: {error.user_message or error}") from error
        except stripe.StripeError as error:
            raise StripeRefused(f"Stripe could not be reached or failed: {error.user_message or error}") from error

    def retrieve_account(self, account_id: str) -> dict:
        return self._account_call(self.stripe.v1.accounts.retrieve, account_id)

    def create_express_account(self, email: str, customer_id: int) -> dict:
        return self._account_call(self.stripe.v1.accounts.create, {
            "type": "express", "email": email, "capabilities": {"transfers": {"requested": True}},
            "metadata": {"refero_customer_id": str(customer_id)}})

    def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        return self._account_call(self.stripe.v1.account_links.create, {
            "account": account_id, "refresh_url": refresh_url, "return_url": return_url,
            "type": "account_onboarding"})["url"]

    def dashboard_link(self, account_id: str) -> str:
        return self._account_call(self.stripe.v1.accounts.login_links.create, account_id)["url"]


    # Reconciliation (rewards.reports.reconciliation): reads only; Stripe's errors are raised as they are.
    def transfers_created(self, start: int, end: int, page_size: int = 100):
        """Every transfer Stripe made in [start, end) (Unix seconds), newest first, through the SDK's
        auto-pagination, paced page by page."""
        self.pacer.wait()
        pages = self.stripe.v1.transfers.list({"created": {"gte": start, "lt": end}, "limit": page_size})
        iterator, seen = iter(pages.auto_paging_iter()), 0
        while True:
            if seen and seen % page_size == 0:
                self.pacer.wait()  # the next item may fetch the next page
            try:
                transfer = next(iterator)
            except StopIteration:
                return
            seen += 1
            yield transfer.to_dict()

    def retrieve_transfer(self, transfer_id: str) -> dict | None:
        """The transfer, or None when Stripe knows no such transfer."""
        try:
            return self._call(self.stripe.v1.transfers.retrieve, transfer_id).to_dict()
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return None
            raise
