"""Links people follow from mail and shared referral links: built from PUBLIC_BASE_URL, never from the Host header."""
from flask import current_app, has_request_context, request

DEVELOPMENT_BASE = "http://127.0.0.1:5000"


def public_base() -> str:
    """PUBLIC_BASE_URL; without it (development and tests only) this request's host, else the local default.

    Production refuses to start without it when mail is sent; without mail it answers relative links (""),
    because a Host header chosen by whoever sends the request must never end up in a link.
    """
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/")
    if current_app.debug or current_app.testing:
        return request.host_url.rstrip("/") if has_request_context() else DEVELOPMENT_BASE
    return ""


def public_url(endpoint: str, **values) -> str:
    """The absolute URL of `endpoint` for a person to open, outside or inside a request."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return public_base() + path
