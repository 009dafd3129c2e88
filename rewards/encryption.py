"""Secrets at rest (tax ids) as Fernet tokens under DATA_ENCRYPTION_KEYS: the first key encrypts, every key
decrypts, so a new key goes first and `flask --app wsgi keys rotate` moves old tokens onto it."""
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from rewards.errors import Conflict


class EncryptionNotConfigured(Conflict):
    """No DATA_ENCRYPTION_KEYS: nothing secret can be stored or read."""


class UndecryptableToken(ValueError):
    """A stored token that none of the configured keys opens (a key was removed before rotating)."""


def parse_keys(value: str | None) -> list[str]:
    """Comma-separated Fernet keys → a list; ValueError naming the position of a malformed key (never its text)."""
    keys = [key.strip() for key in (value or "").split(",") if key.strip()]
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError:
            raise ValueError(f"DATA_ENCRYPTION_KEYS: key number {position} is not a Fernet key "
                             "(32 url-safe base64-encoded bytes, as Fernet.generate_key() makes)") from None
    return keys


@lru_cache(maxsize=4)
def _multi_fernet(value: str) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in parse_keys(value)])


def is_configured() -> bool:
    return bool(parse_keys(current_app.config.get("DATA_ENCRYPTION_KEYS")))


def _fernet() -> MultiFernet:
    value = current_app.config.get("DATA_ENCRYPTION_KEYS")
    if not parse_keys(value):
        raise EncryptionNotConfigured("Secrets cannot be stored: DATA_ENCRYPTION_KEYS is not set.")
    return _multi_fernet(value)


def encrypt(plaintext: str) -> str:
    """A token under the first key."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableToken("no configured key decrypts this token") from None


def rotate(token: str) -> str:
    """The same secret as a token under the first key (unchanged secret, new token)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableToken("no configured key decrypts this token") from None
