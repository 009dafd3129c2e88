"""The SDK's transport to Stripe (rewards.payouts.stripe_client.KeepAliveHTTPClient), against the fake Stripe server:
kept-alive connections the server closed meanwhile are replaced, a late answer is never read as the next call's,
and the proxy from the environment is tunnelled through with its credentials."""
import base64
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from rewards.payouts import stripe_client
from rewards.payouts.stripe_client import PacedStripe, Pacer, StripeRefused
from tests.payouts_support import SECRET_KEY, fake_stripe  # noqa: F401  (fixture)
from tests.tcp_proxy import TcpProxy, pipe


def port_of(url: str) -> int:
    return urlsplit(url).port


def test_a_kept_alive_connection_the_server_closed_while_idle_is_replaced_not_failed(fake_stripe):
    proxy = TcpProxy("127.0.0.1", port_of(fake_stripe.url)).start()
    stripe = PacedStripe(SECRET_KEY, f"http://127.0.0.1:{proxy.port}", 1000, 2)
    account = fake_stripe.add_account()
    try:
        assert stripe.retrieve_account(account["id"])["id"] == account["id"]
        proxy.stop()  # cuts the idle connection the call left open, as Stripe does after a while
        proxy.start()
        time.sleep(0.05)
        assert stripe.retrieve_account(account["id"])["id"] == account["id"]
    finally:
        proxy.stop()
        stripe.close()


def test_after_a_timeout_the_next_call_reads_its_own_answer_not_the_late_one(fake_stripe):
    stripe = PacedStripe(SECRET_KEY, fake_stripe.url, 1000, 0.5)
    late, mine = fake_stripe.add_account(), fake_stripe.add_account()
    fake_stripe.fault("timeout", route="GET /v1/accounts/{id}")
    with pytest.raises(StripeRefused):
        stripe.retrieve_account(late["id"])  # answered after 1 s, when the client gave up at 0.5 s
    assert stripe.retrieve_account(mine["id"])["id"] == mine["id"]
    time.sleep(0.7)  # the late answer has been written by now
    assert stripe.retrieve_account(mine["id"])["id"] == mine["id"]
    stripe.close()


class ConnectProxy:
    """An HTTP proxy that only tunnels (CONNECT), recording each request line and Proxy-Authorization header."""

    def __init__(self):
        self.seen: list[tuple[str, str | None]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        lines = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
        auth = next((line.split(":", 1)[1].strip() for line in lines[1:]
                     if line.lower().startswith("proxy-authorization:")), None)
        self.seen.append((lines[0], auth))
        method, target, _ = lines[0].split(" ")
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=(source, sink), daemon=True).start()

    def close(self):
        self.listener.close()


def test_the_proxy_named_in_the_environment_is_tunnelled_through_with_its_credentials(fake_stripe, monkeypatch):
    proxy = ConnectProxy()
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://fin%40nce:s3cret@127.0.0.1:{proxy.port}")
    stripe = PacedStripe(SECRET_KEY, fake_stripe.url, 1000, 2)
    account = fake_stripe.add_account()
    try:
        assert stripe.retrieve_account(account["id"])["id"] == account["id"]
        assert stripe.retrieve_account(account["id"])["id"] == account["id"]  # the tunnel is kept alive
    finally:
        stripe.close()
        proxy.close()
    token = base64.b64encode(b"fin@nce:s3cret").decode()
    assert proxy.seen == [(f"CONNECT 127.0.0.1:{port_of(fake_stripe.url)} HTTP/1.0", f"Basic {token}")]


def test_the_pacer_spaces_requests_as_they_go_even_when_one_wakes_late(monkeypatch):
    pacer, real_sleep, late = Pacer(50), time.sleep, [0.06]  # 20 ms apart; the first to sleep wakes 60 ms late

    def oversleeping(seconds):
        real_sleep(seconds + (late.pop() if late else 0))

    monkeypatch.setattr(stripe_client.time, "sleep", oversleeping)
    released, lock = [], threading.Lock()

    def go():
        pacer.wait()
        with lock:
            released.append(time.monotonic())

    threads = [threading.Thread(target=go) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    released.sort()
    assert len(released) == 6
    assert min(b - a for a, b in zip(released, released[1:])) >= 0.019
