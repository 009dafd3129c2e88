"""The one door to Stripe: the official SDK's StripeClient, paced under the rate limit, answers sorted into outcomes."""
import base64
import http.client
import select
import ssl
import threading
import time
import urllib.request
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

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
    """Spaces requests at least 1/rate apart as they are let go (no bursts), and holds everyone back after a
    Retry-After. Callers go one at a time and the next slot is counted from when the last one actually went: a
    caller that wakes late (its process was descheduled, another thread held the interpreter) delays the ones
    behind it instead of leaving them to go in a bunch, so no second ever sees more than `rate` + 1."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate
        self.turn = threading.Lock()  # one caller at a time waits for its slot
        self.lock = threading.Lock()  # guards next_at
        self.next_at = 0.0

    def wait(self):
        with self.turn:
            while True:
                with self.lock:
                    pause = self.next_at - time.monotonic()
                if pause <= 0:
                    break
                time.sleep(pause)  # a back_off meanwhile moves next_at: looked at again on waking
            with self.lock:
                self.next_at = max(self.next_at, time.monotonic() + self.interval)

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
    return _seconds((error.headers or {}).get("Retry-After"))


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


class KeepAliveHTTPClient(stripe.HTTPClient):
    """The SDK's transport: the standard library's http.client over kept-alive connections, one per call at a time.

    The SDK's default (`requests`) costs more CPU than the rest of a transfer call (a session's environment, netrc
    and proxy lookups, hooks, cookies, header dicts), which a payout batch pays ten thousand times. This does only
    what a call needs: certificates checked against the SDK's bundle as its own clients do, the proxy read from the
    environment once (HTTPS_PROXY / NO_PROXY, as requests reads them), no redirect followed, no retry (the executor
    decides). A connection the server closed while idle is noticed before it is used; on any error the connection
    is closed, so a late answer is never read as the next one's. Idle connections wait in a pool shared by the
    threads (closed with the client).
    """

    name = "http.client"

    def __init__(self, base: str, timeout: float, pacer: "Pacer"):
        super().__init__()
        self.timeout = timeout
        self.pacer = pacer
        parts = urlsplit(base)
        proxy = None if urllib.request.proxy_bypass(parts.hostname or "") \
            else urllib.request.getproxies().get(parts.scheme)
        self.proxy = urlsplit(proxy) if proxy else None
        self.context = ssl.create_default_context(cafile=stripe.ca_bundle_path)
        self.lock = threading.Lock()
        self.idle: dict[tuple, list[http.client.HTTPConnection]] = {}
        weakref.finalize(self, _close_all, self.idle)

    def _take(self, address: tuple) -> http.client.HTTPConnection:
        with self.lock:
            idle = self.idle.get(address)
            connection = idle.pop() if idle else None
        if connection is not None:
            if connection.sock is None or not _closed_by_peer(connection.sock):
                return connection
            connection.close()
        scheme, host, port = address
        https = scheme == "https"
        kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
        extra = {"context": self.context} if https else {}
        if self.proxy is None:
            return kind(host, port, timeout=self.timeout, **extra)
        connection = kind(self.proxy.hostname, self.proxy.port, timeout=self.timeout, **extra)
        auth = {}
        if self.proxy.username:
            token = base64.b64encode(f"{unquote(self.proxy.username)}:{unquote(self.proxy.password or '')}"
                                     .encode()).decode()
            auth = {"Proxy-Authorization": f"Basic {token}"}
        connection.set_tunnel(host, port, headers=auth)
        return connection

    def request(self, method, url, headers, post_data=None):
        parts = urlsplit(url)
        address = (parts.scheme, parts.hostname, parts.port)
        connection = self._take(address)
        body = post_data.encode() if isinstance(post_data, str) else post_data
        self.pacer.wait()  # as near the wire as can be: the SDK's own work before it does not bunch requests up
        try:
            connection.request(method.upper(), parts.path + (f"?{parts.query}" if parts.query else ""), body=body,
                               headers=dict(headers))
            response = connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise stripe.APIConnectionError(f"Unexpected error communicating with Stripe. (Network error: "
                                            f"{type(error).__name__}: {error})", should_retry=True) from error
        with self.lock:
            self.idle.setdefault(address, []).append(connection)
        if response.status == 429:  # everyone waits as long as Stripe asks (a second if it does not say)
            self.pacer.back_off(_seconds(response.headers.get("Retry-After")) or 1.0)
        return content, response.status, response.headers

    def request_stream(self, method, url, headers, post_data=None):
        raise NotImplementedError("Refero reads no streamed Stripe answer")

    def close(self):
        _close_all(self.idle)


def _close_all(idle: dict) -> None:
    for connections in list(idle.values()):
        while connections:
            connections.pop().close()


def _seconds(value) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _closed_by_peer(sock) -> bool:
    """An idle kept-alive socket that reads as ready has been closed (or sent something unasked): not reusable."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class PacedStripe:
    """StripeClient with our pacing (every request, in the transport) and timeout; the SDK's own retries are off,
    the executor decides."""

    def __init__(self, key: str, api_base: str | None, rate: float, timeout: float):
        self.key = key
        bases = {"api": api_base, "connect": api_base} if api_base else None
        self.pacer = Pacer(rate)
        self.transport = KeepAliveHTTPClient(api_base or stripe.api_base, timeout, self.pacer)
        self.stripe = stripe.StripeClient(key, base_addresses=bases, max_network_retries=0, http_client=self.transport)

    def close(self):
        """Close the idle kept-alive connections (they are also closed when the client goes)."""
        self.transport.close()

    # Transfers, for the executor: never raise, answer an Outcome.
    def create_transfer(self, params: dict, idempotency_key: str) -> Outcome:
        try:
            transfer = self.stripe.v1.transfers.create(params, {"idempotency_key": idempotency_key})
        except Exception as error:  # noqa: BLE001  (sorted, or re-raised when it is not Stripe's)
            return outcome_of_error(error)
        return Outcome("ok", transfer=transfer.to_dict())

    def transfers_in_group(self, transfer_group: str) -> list[dict] | Outcome:
        """Every transfer Stripe lists for the group (at most a few), or the Outcome of a failed call."""
        try:
            page = self.stripe.v1.transfers.list({"transfer_group": transfer_group, "limit": 10})
        except Exception as error:  # noqa: BLE001
            return outcome_of_error(error)
        return [t.to_dict() for t in page.data]

    # Accounts, for pages and the API: errors become exceptions a person reads.
    def _account_call(self, function, *args):
        try:
            return function(*args).to_dict()
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
        auto-pagination (each page's request paced by the transport)."""
        pages = self.stripe.v1.transfers.list({"created": {"gte": start, "lt": end}, "limit": page_size})
        for transfer in pages.auto_paging_iter():
            yield transfer.to_dict()

    def retrieve_transfer(self, transfer_id: str) -> dict | None:
        """The transfer, or None when Stripe knows no such transfer."""
        try:
            return self.stripe.v1.transfers.retrieve(transfer_id).to_dict()
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return None
            raise
