"""Account rules: passwords, sessions that the server can end, API keys."""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from rewards import audit
from rewards.accounts import key_memory, tokens
from rewards.accounts.models import ROLES, ApiKey, User, new_session_token
from rewards.clock import utcnow
from rewards.contacts import normalize_email
from rewards.errors import Conflict, InvalidInput, NotFound
from rewards.extensions import db

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
# zxcvbn's score, 0 (a common password, a keyboard walk, a repeat) to 4: 3 is "safely unguessable" online.
PASSWORD_MIN_SCORE = 3
API_KEY_PREFIX = "rk_"

# argon2id with the library's defaults (RFC 9106 low-memory profile).
password_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both cases take the same time (made at first need: a hash
    costs every process start, workers and commands included, half a second)."""
    return password_hasher.hash("not-a-real-password-for-timing")


def check_password_policy(password: str, user_inputs=()) -> None:
    """Long enough, not too long, and not on the common-password lists (zxcvbn), nor made of the user's own details."""
    if len(password or "") < PASSWORD_MIN_LENGTH:
        raise InvalidInput(f"Password must be at least {PASSWORD_MIN_LENGTH} characters.", "password")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput(f"Password must be at most {PASSWORD_MAX_LENGTH} characters.", "password")
    inputs = [part for value in user_inputs if value for part in [value, *value.replace("@", " ").split()]]
    result = zxcvbn(password, user_inputs=inputs)
    if result["score"] < PASSWORD_MIN_SCORE:
        hint = result["feedback"]["warning"] or "It is close to a common password or to your own details."
        raise InvalidInput(f"This password is too easy to guess. {hint} Try a longer phrase of unrelated words.",
                           "password")


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(db.select(User).filter_by(email=email.strip().lower()))


def create_user(email: str, password: str, role: str, name: str = "") -> User:
    """Add a user (not committed). Raises InvalidInput or Conflict."""
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of: {', '.join(ROLES)}.", "role")
    email = normalize_email(email)
    check_password_policy(password, (email, name))
    return add_user(email, hash_password(password), role, name)


def add_user(email: str, password_hash: str, role: str, name: str = "") -> User:
    """Add a user whose password was already checked and hashed (not committed). Conflict if the email is taken."""
    if find_user_by_email(email):
        raise Conflict("A user with this email already exists.", "email")
    user = User(email=email, name=(name or "").strip(), role=role, password_hash=password_hash)
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", user, {"role": role})
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None."""
    user = find_user_by_email(email or "")
    if user is None or len(password or "") > PASSWORD_MAX_LENGTH:
        _verify(_dummy_hash(), "x")
        return None
    if not _verify(user.password_hash, password or "") or user.is_disabled:
        return None
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def end_sessions(user: User) -> None:
    """Make every session cookie issued to this user so far useless."""
    user.session_token = new_session_token()


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches the hash (a too long password never does, and costs no hashing)."""
    if len(password or "") > PASSWORD_MAX_LENGTH:
        return False
    return _verify(password_hash, password or "")


def set_password(user: User, new_password: str, how: str = "changed") -> None:
    """The one way a password changes: checked, hashed, every session and every emailed link of the user ended."""
    check_password_policy(new_password, (user.email, user.name))
    user.password_hash = hash_password(new_password)
    end_sessions(user)
    tokens.revoke(user=user)
    audit.record("user.password_changed", user, {"how": how})


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not _verify(user.password_hash, current_password or ""):
        raise InvalidInput("The current password is wrong.", "current_password")
    set_password(user, new_password)


def set_disabled(user: User, disabled: bool) -> None:
    user.is_disabled = disabled
    end_sessions(user)
    audit.record("user.disabled" if disabled else "user.enabled", user)


def _hash_key(key: str) -> str:
    # API keys carry 256 random bits, so a fast hash is enough to keep them unusable if the table leaks.
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(user: User, label: str = "") -> tuple[ApiKey, str]:
    """A new key for `user`; returns the row and the key itself, which is never stored."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(user_id=user.id, label=(label or "")[:100], prefix=secret[:10], key_hash=_hash_key(secret))
    db.session.add(key)
    db.session.flush()
    audit.record("api_key.created", key, {"label": key.label, "user_id": user.id})
    return key, secret


def revoke_api_key(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record("api_key.revoked", key)


@dataclass(frozen=True)
class KeyInUse:
    """A live API key presented with a request: its id, when it was last used, and its user (loaded)."""

    id: int
    user_id: int
    last_used_at: datetime | None
    user: User


def api_key_for(secret: str) -> KeyInUse | None:
    """The live key matching `secret`, whose user is active; else None."""
    if not secret or not secret.startswith(API_KEY_PREFIX) or len(secret) > 100:
        return None
    key_hash, memory = _hash_key(secret), key_memory.current()
    version = memory.version() if memory is not None else None  # read before the database: see key_memory
    known = memory.recall(key_hash, version) if version is not None else None
    if known is not None:
        return KeyInUse(known.id, known.user_id, known.last_used_at, db.session.merge(known.user, load=False))
    found = db.session.execute(_key_and_user_query(), {"key_hash": key_hash}).first()
    if found is None or found.revoked_at is not None or found.User.is_disabled:
        return None
    if version is not None:
        memory.remember(key_hash, version, found.id, found.user_id, found.last_used_at, found.User)
    return KeyInUse(found.id, found.user_id, found.last_used_at, found.User)


@cache
def _key_and_user_query():
    """Every API request runs this query: built once (at first use, when every model is mapped). Only the user is
    an ORM object (current_user); the key's few columns come as plain values, which costs the ORM half as much."""
    return (db.select(User, ApiKey.id, ApiKey.user_id, ApiKey.revoked_at, ApiKey.last_used_at)
            .join(ApiKey, ApiKey.user_id == User.id).where(ApiKey.key_hash == db.bindparam("key_hash")))


def note_key_used(key_id: int, at: datetime) -> None:
    """Record the key's use now, in a transaction of its own (the request's work has not started)."""
    db.session.execute(db.update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    memory = key_memory.current()
    if memory is not None:
        memory.noted_use(key_id, at)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user
