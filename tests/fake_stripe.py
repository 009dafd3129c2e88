"""A fake Stripe API of our own, over real HTTP, for the real SDK's StripeClient (pointed here by STRIPE_API_BASE).

It speaks the parts of Stripe that Refero uses: accounts (Express, login links), account links, transfers (create,
retrieve, list by `transfer_group`, reversals) and the balance. Objects are built from Stripe's own samples in
tests/fixtures/stripe. Idempotency behaves as Stripe documents it: the same key with the same parameters gets the
first answer again, errors included; the same key with other parameters is a 400; an answer is stored only once the
endpoint started executing, so validation errors, rate limits (429) and a key in use by a concurrent request (409)
are not stored. Tests switch on faults (`fake.fault(...)`), latency and a rate limit, and read what happened.
"""
import copy
import itertools
import json
import os
import secrets
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "stripe")
FAULT_KINDS = ("500", "500_after_transfer", "429", "timeout", "drop_after_transfer", "insufficient_balance")


def fixture(name: str) -> dict:
    with open(os.path.join(FIXTURES, f"{name}.json")) as handle:
        return json.load(handle)


def parse_form(body: str) -> dict:
    """Stripe's form encoding (`metadata[batch]=1`, `capabilities[transfers][requested]=true`) → nested dicts."""
    result: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return result


class StripeError(Exception):
    def __init__(self, status, type_, message, code=None, param=None, store=True, headers=None):
        super().__init__(message)
        self.status, self.store, self.headers = status, store, headers or {}
        self.body = {"error": {k: v for k, v in (("type", type_), ("message", message), ("code", code),
                                                  ("param", param)) if v is not None}}


class Dropped(Exception):
    """Close the connection without an answer (the work may have been done)."""


class FakeStripe:
    """State and rules of the fake; `serve()` puts it on a loopback port."""

    def __init__(self, latency: float = 0.0, rate_limit: float | None = None, balance: dict | None = None):
        self.latency = latency
        self.rate_limit = rate_limit          # requests per second before answering 429; None: no limit
        self.timeout_delay = 3.0               # how long a "timeout" fault stalls before doing the work
        self.lock = threading.RLock()
        self.accounts: dict[str, dict] = {}
        self.transfers: dict[str, dict] = {}
        self.transfer_order: list[str] = []
        self.idempotency: dict[tuple, dict] = {}
        self.in_progress: set = set()
        self.balance = dict(balance if balance is not None else {"usd": 10**12, "eur": 10**12})
        self.faults: list[dict] = []
        self.requests: list[tuple[float, str, str]] = []   # (time, method, path) of every request answered
        self._window: deque = deque()
        self._ids = itertools.count(1)
        self.server = None
        self.thread = None

    # ---- control, for tests -------------------------------------------------------------------------------
    def fault(self, kind: str, times: int = 1, route: str = "POST /v1/transfers", when=None):
        """The next `times` requests on `route` (matching `when(params)` if given) meet fault `kind`."""
        assert kind in FAULT_KINDS, kind
        with self.lock:
            self.faults.append({"kind": kind, "times": times, "route": route, "when": when})

    def add_account(self, ready: bool = True, account_id: str | None = None, **fields) -> dict:
        """A connected account as Stripe would hold it; `ready` = transfers active and payouts enabled."""
        account = self._new_account(account_id)
        self._set_ready(account, ready)
        account.update(fields)
        with self.lock:
            self.accounts[account["id"]] = account
        return copy.deepcopy(account)

    def set_ready(self, account_id: str, ready: bool = True) -> dict:
        with self.lock:
            self._set_ready(self.accounts[account_id], ready)
            return copy.deepcopy(self.accounts[account_id])

    def delete_account(self, account_id: str):
        with self.lock:
            self.accounts.pop(account_id, None)

    def transfers_made(self, transfer_group: str | None = None) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(self.transfers[t]) for t in self.transfer_order
                    if transfer_group is None or self.transfers[t].get("transfer_group") == transfer_group]

    def reverse(self, transfer_id: str, amount: int | None = None) -> dict:
        """Reverse (part of) a transfer as the platform's dashboard would; returns the reversal."""
        with self.lock:
            return self._reverse(self.transfers[transfer_id], {"amount": amount} if amount else {})

    def max_requests_in_any_second(self) -> int:
        times = sorted(t for t, _, _ in self.requests)
        best, start = 0, 0
        for end in range(len(times)):
            while times[end] - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    # ---- serving ------------------------------------------------------------------------------------------
    def serve(self) -> str:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.url

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)

    # ---- objects ------------------------------------------------------------------------------------------
    def _id(self, prefix):
        return f"{prefix}_{secrets.token_hex(6)}{next(self._ids)}"

    def _new_account(self, account_id=None, email=None):
        account = fixture("account")
        account.update({"id": account_id or self._id("acct"), "type": "express", "email": email,
                        "created": int(time.time()), "controller": {"type": "application"}})
        account["external_accounts"]["url"] = f"/v1/accounts/{account['id']}/external_accounts"
        account["capabilities"] = {"transfers": "inactive"}
        return account

    @staticmethod
    def _set_ready(account, ready):
        account["capabilities"]["transfers"] = "active" if ready else "inactive"
        account["payouts_enabled"] = ready
        account["details_submitted"] = ready
        account["requirements"]["currently_due"] = [] if ready else ["external_account", "tos_acceptance.date"]
        account["requirements"]["disabled_reason"] = None if ready else "requirements.past_due"

    def _reverse(self, transfer, params):
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = int(params.get("amount") or left)
        if amount <= 0 or amount > left:
            raise StripeError(400, "invalid_request_error", "Amount exceeds what can be reversed.", param="amount")
        reversal = fixture("transfer_reversal")
        reversal.update({"id": self._id("trr"), "amount": amount, "currency": transfer["currency"],
                         "transfer": transfer["id"], "created": int(time.time()),
                         "metadata": params.get("metadata") or {}})
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].insert(0, reversal)
        self.balance[transfer["currency"]] = self.balance.get(transfer["currency"], 0) + amount
        return copy.deepcopy(reversal)

    # ---- endpoints: each (method, path parts) → function(params, *ids) ---------------------------------------
    def create_account(self, params):
        if params.get("type", "express") != "express":
            raise StripeError(400, "invalid_request_error", "Only Express accounts here.", param="type", store=False)
        account = self._new_account(email=params.get("email"))
        account["metadata"] = params.get("metadata") or {}
        self.accounts[account["id"]] = account
        return account

    def get_account(self, params, account_id):
        account = self.accounts.get(account_id)
        if account is None:
            raise StripeError(404, "invalid_request_error", f"No such account: '{account_id}'",
                              code="resource_missing", param="account", store=False)
        return account

    def create_login_link(self, params, account_id):
        self.get_account(params, account_id)
        return {"object": "login_link", "created": int(time.time()),
                "url": f"https://connect.stripe.com/express/{account_id}/{secrets.token_hex(6)}"}

    def create_account_link(self, params):
        for name in ("account", "refresh_url", "return_url", "type"):
            if not params.get(name):
                raise StripeError(400, "invalid_request_error", f"Missing required param: {name}.", param=name,
                                  store=False)
        self.get_account(params, params["account"])
        link = fixture("account_link")
        link.update({"created": int(time.time()), "expires_at": int(time.time()) + 300,
                     "url": f"https://connect.stripe.com/setup/e/{params['account']}/{secrets.token_hex(6)}"})
        return link

    def create_transfer(self, params, fault=None):
        try:
            amount = int(params.get("amount", ""))
        except ValueError:
            raise StripeError(400, "invalid_request_error", "Invalid integer: amount", param="amount", store=False)
        currency = params.get("currency", "")
        if amount <= 0 or len(currency) != 3:
            raise StripeError(400, "invalid_request_error", "Invalid amount or currency.", param="amount", store=False)
        destination = self.accounts.get(params.get("destination", ""))
        if destination is None:
            raise StripeError(400, "invalid_request_error", "No such destination: "
                              f"'{params.get('destination')}'", code="resource_missing", param="destination")
        if destination["capabilities"].get("transfers") != "active":
            raise StripeError(400, "invalid_request_error", "Your destination account needs to have at least one "
                              "of the following capabilities enabled: transfers, crypto_transfers, legacy_payments",
                              code="insufficient_capabilities_for_transfer", param="destination")
        if fault == "insufficient_balance" or self.balance.get(currency, 0) < amount:
            raise StripeError(400, "invalid_request_error", "You have insufficient funds in your Stripe account. "
                              "One likely reason you have insufficient funds is that your funds are automatically "
                              "being paid out", code="balance_insufficient")
        transfer = fixture("transfer")
        transfer_id = self._id("tr")
        transfer.update({"id": transfer_id, "amount": amount, "currency": currency, "destination": destination["id"],
                         "transfer_group": params.get("transfer_group"), "metadata": params.get("metadata") or {},
                         "description": params.get("description"), "created": int(time.time()),
                         "destination_payment": self._id("py"), "balance_transaction": self._id("txn")})
        transfer["reversals"]["url"] = f"/v1/transfers/{transfer_id}/reversals"
        self.balance[currency] -= amount
        self.transfers[transfer_id] = transfer
        self.transfer_order.append(transfer_id)
        return transfer

    def get_transfer(self, params, transfer_id):
        if transfer_id not in self.transfers:
            raise StripeError(404, "invalid_request_error", f"No such transfer: '{transfer_id}'",
                              code="resource_missing", param="id", store=False)
        return self.transfers[transfer_id]

    def list_transfers(self, params):
        ids = [t for t in reversed(self.transfer_order)
               if (not params.get("transfer_group") or self.transfers[t].get("transfer_group") == params["transfer_group"])
               and (not params.get("destination") or self.transfers[t]["destination"] == params["destination"])]
        created = params.get("created") if isinstance(params.get("created"), dict) else {}
        bounds = {"gte": lambda c, v: c >= v, "gt": lambda c, v: c > v, "lte": lambda c, v: c <= v,
                  "lt": lambda c, v: c < v}
        for op, value in created.items():  # Stripe's created[gte]=…&created[lt]=… filters, in Unix seconds
            ids = [t for t in ids if bounds[op](self.transfers[t]["created"], int(value))]
        if params.get("starting_after") in ids:
            ids = ids[ids.index(params["starting_after"]) + 1:]
        limit = min(int(params.get("limit") or 10), 100)
        return {"object": "list", "url": "/v1/transfers", "has_more": len(ids) > limit,
                "data": [self.transfers[t] for t in ids[:limit]]}

    def create_reversal(self, params, transfer_id):
        return self._reverse(self.get_transfer(params, transfer_id), params)

    def get_balance(self, params):
        balance = fixture("balance")
        balance["available"] = [{"amount": amount, "currency": currency, "source_types": {"card": amount}}
                                for currency, amount in sorted(self.balance.items())]
        return balance

    def route(self, method, parts):
        """(function, ids, route name) for a request, or None."""
        table = {
            ("POST", ("v1", "accounts")): self.create_account,
            ("GET", ("v1", "accounts", None)): self.get_account,
            ("POST", ("v1", "accounts", None, "login_links")): self.create_login_link,
            ("POST", ("v1", "account_links")): self.create_account_link,
            ("POST", ("v1", "transfers")): self.create_transfer,
            ("GET", ("v1", "transfers")): self.list_transfers,
            ("GET", ("v1", "transfers", None)): self.get_transfer,
            ("POST", ("v1", "transfers", None, "reversals")): self.create_reversal,
            ("GET", ("v1", "balance")): self.get_balance,
        }
        for (m, pattern), function in table.items():
            if m == method and len(pattern) == len(parts) and all(p is None or p == q for p, q in zip(pattern, parts)):
                ids = [q for p, q in zip(pattern, parts) if p is None]
                return function, ids, f"{method} /" + "/".join(p if p is not None else "{id}" for p in pattern)
        return None

    def _take_fault(self, route, params):
        with self.lock:
            for fault in self.faults:
                if fault["times"] > 0 and fault["route"] == route and (fault["when"] is None or fault["when"](params)):
                    fault["times"] -= 1
                    return fault["kind"]
        return None

    def _rate_limited(self, now) -> bool:
        if self.rate_limit is None:
            return False
        with self.lock:
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.rate_limit:
                return True
            self._window.append(now)
            return False

    def handle(self, method, path, query, body, headers):
        """(status, body dict, extra headers); raises Dropped to close the connection unanswered."""
        now = time.monotonic()  # a request counts (and is rate limited) when it arrives, as at Stripe
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            self.requests.append((now, method, path))
        if path == "/_fake/stats":  # for the benchmark, which runs the fake in a process of its own
            with self.lock:
                posted = sum(1 for _, m, p in self.requests if m == "POST" and p == "/v1/transfers")
            return 200, {"requests": len(self.requests), "transfer_posts": posted, "transfers": len(self.transfers),
                         "groups": len({t["transfer_group"] for t in self.transfers.values()}),
                         "max_requests_in_any_second": self.max_requests_in_any_second()}, {}
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer sk_"):
            return 401, StripeError(401, "invalid_request_error", "Invalid API Key provided.").body, {}
        if self._rate_limited(now):
            return 429, StripeError(429, "invalid_request_error", "Too many requests hit the API too quickly.",
                                    code="rate_limit").body, {"Retry-After": "1"}
        found = self.route(method, [p for p in path.split("/") if p])
        if found is None:
            return 404, StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})."
                                    ).body, {}
        function, ids, route = found
        params = parse_form(body if method == "POST" else query)
        fault = self._take_fault(route, params)
        if fault == "429":
            return 429, StripeError(429, "invalid_request_error", "Too many requests hit the API too quickly.",
                                    code="rate_limit").body, {"Retry-After": "1"}
        key = headers.get("Idempotency-Key") if method == "POST" else None
        scope = (auth, key)
        fingerprint = json.dumps([path, params], sort_keys=True)
        if key:
            with self.lock:
                stored = self.idempotency.get(scope)
                if stored is not None:
                    if stored["fingerprint"] != fingerprint:
                        return 400, StripeError(400, "idempotency_error", "Keys for idempotent requests can only be "
                                                "used with the same parameters they were first used with.").body, {}
                    if fault in ("drop_after_transfer", "timeout"):
                        fault = None
                    return stored["status"], copy.deepcopy(stored["body"]), {"Idempotent-Replayed": "true"}
                if scope in self.in_progress:
                    return 409, StripeError(409, "idempotency_error", "There is currently another in-progress "
                                            "request using this Idempotent Key (that probably means you submitted "
                                            "twice, and the other request is still going through).").body, {}
                self.in_progress.add(scope)
        try:
            if fault == "timeout":
                time.sleep(self.timeout_delay)   # the client gives up; the work is still done below
            status, answer = self._execute(function, ids, params, fault)
            extra = {}
        except StripeError as error:
            if key and not error.store:
                with self.lock:
                    self.in_progress.discard(scope)
                return error.status, error.body, error.headers
            status, answer, extra = error.status, error.body, error.headers
        if key:
            with self.lock:
                self.idempotency[scope] = {"fingerprint": fingerprint, "status": status, "body": copy.deepcopy(answer)}
                self.in_progress.discard(scope)
        if fault == "drop_after_transfer":
            raise Dropped()
        if fault == "500_after_transfer":
            return 500, StripeError(500, "api_error", "An unknown error occurred").body, {}
        return status, answer, extra

    def _execute(self, function, ids, params, fault):
        if fault == "500":
            raise StripeError(500, "api_error", "An unknown error occurred")
        with self.lock:
            if function == self.create_transfer:
                answer = function(params, fault)
            else:
                answer = function(params, *ids)
            return 200, copy.deepcopy(answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # a client that gave up (timeout) closed its end: nothing to report


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeStripe

    def setup(self):
        super().setup()
        # Headers and body go out as two writes: without NODELAY, Nagle and delayed ACKs add 40 ms to each answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def _answer(self, method):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        try:
            status, payload, extra = self.fake.handle(method, url.path, url.query, body, self.headers)
        except Dropped:
            self.close_connection = True
            return
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def do_DELETE(self):
        self._answer("DELETE")


def main():
    """`python -m tests.fake_stripe --latency 0.05 --rate-limit 100 --accounts acct_bench --count 10000`: serve
    until killed; prints the URL on the first line. GET /_fake/stats tells what it saw."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=None)
    parser.add_argument("--accounts", default="acct_bench")
    parser.add_argument("--count", type=int, default=0)
    args = parser.parse_args()
    fake = FakeStripe(latency=args.latency, rate_limit=args.rate_limit)
    for i in range(args.count):
        fake.add_account(ready=True, account_id=f"{args.accounts}{i}")
    print(fake.serve(), flush=True)
    try:
        fake.thread.join()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
