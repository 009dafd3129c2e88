"""Links sent by email: random tokens stored only as their SHA-256, each single use and expiring."""
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import update

from rewards.accounts.models import AccountToken, User
from rewards.clock import utcnow
from rewards.extensions import db

LIFETIMES = {"signup": timedelta(hours=24), "claim": timedelta(days=7), "reset": timedelta(hours=1)}
MAX_TOKEN_LENGTH = 100


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(purpose: str, email: str, *, user: User | None = None, name: str | None = None,
          password_hash: str | None = None) -> str:
    """A new token for `purpose` (row added, not committed); returns the token itself, which is never stored."""
    token = secrets.token_urlsafe(32)
    db.session.add(AccountToken(purpose=purpose, token_hash=_hash(token), email=email,
                                user_id=user.id if user else None, name=name, password_hash=password_hash,
                                expires_at=utcnow() + LIFETIMES[purpose]))
    db.session.flush()
    return token


def find(purpose: str, token: str, lock: bool = False) -> AccountToken | None:
    """The live token (unused, unexpired) of this purpose, or None for anything else, garbage included."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    query = db.select(AccountToken).filter_by(purpose=purpose, token_hash=_hash(token))
    if lock:
        query = query.with_for_update()
    row = db.session.scalar(query)
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def use(token: AccountToken) -> None:
    token.used_at = utcnow()


def revoke(*, email: str | None = None, user: User | None = None, purposes=tuple(LIFETIMES)) -> None:
    """End every live token of this address or user (not committed)."""
    condition = AccountToken.user_id == user.id if user is not None else AccountToken.email == email
    db.session.execute(update(AccountToken).where(condition, AccountToken.purpose.in_(purposes),
                                                  AccountToken.used_at.is_(None)).values(used_at=utcnow()))
