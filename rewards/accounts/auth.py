"""Who is asking: session logins for pages, API keys for /api/v1, and the role checks both share."""
from datetime import datetime, timedelta, timezone
from functools import partial, wraps

import hashlib

from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from flask_smorest import abort
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse

from rewards.accounts import key_memory, service
from rewards.accounts.models import ApiKey, User
from rewards.clock import utcnow
from rewards.extensions import db, limiter, login_manager

API_PREFIX = "/api/v1/"
PUBLIC_API_PATHS = {"/api/v1/openapi.json"}


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """A session cookie names user id and session token; a rotated token means the session was ended."""
    user_id, _, token = (session_id or "").partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.is_disabled or user.session_token != token:
        return None
    return user


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def authenticate_api_request():
    """Every /api/v1 call needs a live API key; the session cookie is never used there."""
    if not is_api_request() or request.path in PUBLIC_API_PATHS or request.method == "OPTIONS":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    key = service.api_key_for(secret.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        abort(401, message="A valid API key is required (Authorization: Bearer <key>).",
              headers={"WWW-Authenticate": "Bearer"})
    # Written at most once a minute, and committed at once, before the call's own work: a key used only to read
    # shows its use too, and no call holds the key's row while it works (one key's calls would run one at a time).
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        service.note_key_used(key.id, now)
    g.api_key = key
    g._login_user = key.user  # Flask-Login's slot for the current user: current_user is the key's user.
    return None


def start_session(user: User) -> None:
    """Log `user` in on a brand-new session: nothing from before the login (its CSRF token included) survives."""
    session.clear()
    login_user(user)
    session["last_seen"] = int(utcnow().timestamp())
    session.permanent = True


def enforce_idle_timeout():
    """End a page session idle for longer than SESSION_IDLE_MINUTES (checked server-side, in the signed cookie).

    A logged-in cookie without its last-seen time is treated as expired: every session started here has one.
    """
    if is_api_request() or request.endpoint == "static":
        return None
    now = utcnow()
    last_seen = session.get("last_seen")
    if current_user.is_authenticated:
        idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
        if not isinstance(last_seen, int) or now - datetime.fromtimestamp(last_seen, timezone.utc) > idle:
            logout_user()
            session.clear()
            return None
    if current_user.is_authenticated:
        session["last_seen"] = int(now.timestamp())
        session.permanent = True
    return None


def roles_required(*roles):
    """Only users of these roles (admin always) may call the view: 401 / login redirect otherwise, 403 for other roles."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                if is_api_request():
                    abort(401, message="A valid API key is required.")
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403, message="Your role may not do this.")
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles
        return wrapped

    return decorator


# Clients that logged into an account before carry a signed cookie naming it: the per-account limit on failed
# logins does not apply to them, so an attacker hammering an account cannot lock its owner out.
KNOWN_CLIENT_COOKIE = "refero_known"
KNOWN_CLIENT_DAYS = 365
_KNOWN_MAX = 5


def _known_serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="known-client")


def known_user_ids() -> list[int]:
    try:
        ids = _known_serializer().loads(request.cookies.get(KNOWN_CLIENT_COOKIE, ""))
    except BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def remember_client(response, user: User):
    """Mark this client as one that logged into `user` (kept for a year)."""
    ids = [user.id] + [i for i in known_user_ids() if i != user.id]
    response.set_cookie(KNOWN_CLIENT_COOKIE, _known_serializer().dumps(ids[:_KNOWN_MAX]),
                        max_age=KNOWN_CLIENT_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=current_app.session_interface.get_cookie_secure(current_app))
    return response


def _account_key(email: str) -> str:
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()


def account_login_blocked(email: str) -> bool:
    """Too many failed logins to this account lately, from clients that never logged into it."""
    user = service.find_user_by_email(email or "")
    if user is not None and user.id in known_user_ids():
        return False
    limit = parse(current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"])
    return not limiter.limiter.test(limit, "login-account", _account_key(email))


def record_failed_login(email: str) -> None:
    limiter.limiter.hit(parse(current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]), "login-account", _account_key(email))


def spare_the_api_rate_limiting(app) -> None:
    """The JSON API has no Flask-Limiter limits (its callers hold API keys; the limits guard the login and sign-up
    forms, and the API's own quotas are counted by the features): Flask-Limiter's three hooks are not run for its
    calls at all. Even told by a request filter that nothing applies, they cost 5% of recording a sale."""
    def outside_api(hook, answer):
        @wraps(hook)
        def hook_outside_api(*args):
            return answer(*args) if is_api_request() else hook(*args)
        return hook_outside_api

    for hooks, answer in ((app.before_request_funcs[None], lambda: None),
                          (app.after_request_funcs[None], lambda response: response),
                          (app.teardown_request_funcs[None], lambda error=None: None)):
        hooks[:] = [outside_api(hook, answer) if _belongs_to(hook, limiter) else hook for hook in hooks]


def _belongs_to(hook, extension) -> bool:
    """A bound method of `extension`, or a partial of one of its functions with it as the first argument."""
    return getattr(hook, "__self__", None) is extension or (isinstance(hook, partial) and hook.args[:1] == (extension,))


def register_auth(app):
    login_manager.login_view = "accounts.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    spare_the_api_rate_limiting(app)
    key_memory.init_key_memory(app, User, ApiKey)
    app.before_request(authenticate_api_request)
    app.before_request(enforce_idle_timeout)
