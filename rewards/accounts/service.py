"""Account rules: passwords, sessions that the server can end, API keys."""
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import joinedload

from rewards import audit
from rewards.accounts.models import ROLES, ApiKey, User, new_session_token
from rewards.clock import utcnow
from rewards.contacts import normalize_email
from rewards.errors import Conflict, InvalidInput, NotFound
from rewards.extensions import db

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
API_KEY_PREFIX = "rk_"

# argon2id with the library's defaults (RFC 9106 low-memory profile).
password_hasher = PasswordHasher()
# Verified against when the email is unknown, so both cases take the same time.
_DUMMY_HASH = password_hasher.hash("not-a-real-password-for-timing")


def check_password_policy(password: str) -> None:
    if len(password or "") < PASSWORD_MIN_LENGTH:
        raise InvalidInput(f"Password must be at least {PASSWORD_MIN_LENGTH} characters.", "password")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput(f"Password must be at most {PASSWORD_MAX_LENGTH} characters.", "password")


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(db.select(User).filter_by(email=email.strip().lower()))


def create_user(email: str, password: str, role: str, name: str = "") -> User:
    """Add a user (not committed). Raises InvalidInput or Conflict."""
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of: {', '.join(ROLES)}.", "role")
    email = normalize_email(email)
    check_password_policy(password)
    if find_user_by_email(email):
        raise Conflict("A user with this email already exists.", "email")
    user = User(email=email, name=(name or "").strip(), role=role, password_hash=password_hasher.hash(password))
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", user, {"role": role})
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None."""
    user = find_user_by_email(email or "")
    if user is None or len(password or "") > PASSWORD_MAX_LENGTH:
        _verify(_DUMMY_HASH, "x")
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


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not _verify(user.password_hash, current_password or ""):
        raise InvalidInput("The current password is wrong.", "current_password")
    check_password_policy(new_password)
    user.password_hash = password_hasher.hash(new_password)
    end_sessions(user)
    audit.record("user.password_changed", user)


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


def api_key_for(secret: str) -> ApiKey | None:
    """The live key matching `secret`, whose user is active; else None."""
    if not secret or not secret.startswith(API_KEY_PREFIX) or len(secret) > 100:
        return None
    # The user comes in the same query: every API request needs it (role, disabled) right after.
    key = db.session.scalar(db.select(ApiKey).options(joinedload(ApiKey.user))
                            .filter_by(key_hash=_hash_key(secret)))
    if key is None or key.revoked_at is not None or key.user.is_disabled:
        return None
    return key


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user
