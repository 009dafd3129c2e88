"""Security headers on every response, and no caching of pages with personal data."""
from flask import current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from rewards.accounts.auth import API_PREFIX

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")


SECURITY_HEADERS = (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                    ("Referrer-Policy", "strict-origin-when-cross-origin"), ("X-Frame-Options", "DENY"))
HSTS_HEADER = ("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
CACHEABLE_ENDPOINTS = ("static", "bootstrap.static", "vendor.asset", "site.favicon")


def set_security_headers(response):
    """Each header unless the view set its own (names read once: a lookup in Headers scans them all)."""
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    wanted = SECURITY_HEADERS + ((HSTS_HEADER,) if current_app.config.get("HSTS") else ())
    headers.extend([(name, value) for name, value in wanted if name.lower() not in present])
    # Everything but static files may carry personal data: never store it in a shared or browser cache.
    if request.endpoint not in CACHEABLE_ENDPOINTS:
        headers["Cache-Control"] = "no-store"
    return response


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class SessionInterface(SecureCookieSessionInterface):
    """Secure session cookies outside development, except over plain HTTP on this machine's loopback
    (which browsers treat as a secure origin too): a local run or smoke test must still keep its session."""

    def open_session(self, app, request):
        # The JSON API authenticates with API keys and never uses the session cookie (see accounts.auth): it gets
        # a null session, so no cookie is verified or decoded on the way in, nor saved on the way out.
        if request.path.startswith(API_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_secure(self, app):
        if not app.config["SESSION_COOKIE_SECURE"]:
            return False
        if has_request_context() and not request.is_secure and request.host.rsplit(":", 1)[0] in LOOPBACK_HOSTS:
            return False
        return True


def register_security_headers(app):
    app.session_interface = SessionInterface()
    proxies = app.config.get("TRUSTED_PROXY_COUNT", 0)
    if proxies:
        # Behind a TLS-terminating proxy: trust its X-Forwarded-* so request.is_secure and remote_addr are real.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.after_request(set_security_headers)
