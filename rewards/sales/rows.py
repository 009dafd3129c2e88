"""One sale's reported fields, cleaned the same way whichever door it came through, and its content hash."""
import hashlib
import re
from datetime import datetime, timezone

from rewards.bounds import MAX_AMOUNT, MAX_TIME, MIN_TIME, check_text, time_in_range
from rewards.contacts import normalize_email, normalize_phone
from rewards.errors import InvalidInput

_CURRENCY = re.compile(r"^[a-z]{3}$")
AMOUNT_MESSAGE = "Amount must be a whole number of minor units (cents), e.g. 1999."


def clean_amount(value, field: str = "amount") -> int:
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            raise InvalidInput(AMOUNT_MESSAGE, field)
        value = int(value) if len(value) <= 19 else MAX_AMOUNT + 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(AMOUNT_MESSAGE, field)
    if value > MAX_AMOUNT:
        raise InvalidInput(f"Amount is at most {MAX_AMOUNT} minor units.", field)
    return value


def clean_time(value, field: str = "occurred_at") -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput("Time must be ISO 8601 with an offset, e.g. 2026-03-01T10:00:00Z.", field) from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput("Time must be ISO 8601 with an offset, e.g. 2026-03-01T10:00:00Z.", field)
    # Compared before converting: 9999-12-31T23:59:59-14:00 is past the year 9999 in UTC.
    if not time_in_range(value):
        raise InvalidInput(f"Time must be between {MIN_TIME:%Y-%m-%d} and {MAX_TIME:%Y-%m-%d}.", field)
    return value.astimezone(timezone.utc)


def clean_sale(fields: dict, email_required: bool = True) -> dict:
    """The sale's columns from reported fields, with their content hash; raises InvalidInput naming the first bad field.

    Every door (API, CSV import, Stripe events) cleans its sales here; only Stripe may report a sale
    without an email (`email_required=False`), matched by phone or not at all.
    """
    for name in ("external_id", "email", "currency", "referral_code", "phone", "payment_fingerprint"):
        value = fields.get(name)
        if isinstance(value, str):
            check_text(value, name)
    external_id = (fields.get("external_id") or "").strip()
    if not external_id or len(external_id) > 255:
        raise InvalidInput("external_id is required (at most 255 characters).", "external_id")
    currency = (fields.get("currency") or "").strip()
    if not _CURRENCY.match(currency):
        raise InvalidInput("Currency must be a lower-case ISO 4217 code, e.g. usd.", "currency")
    code = (fields.get("referral_code") or "").strip() or None
    if code is not None and len(code) > 32:
        raise InvalidInput("Not a referral code.", "referral_code")
    fingerprint = (fields.get("payment_fingerprint") or "").strip() or None
    if fingerprint is not None and len(fingerprint) > 255:
        raise InvalidInput("payment_fingerprint is at most 255 characters.", "payment_fingerprint")
    row = {
        "external_id": external_id,
        "email": normalize_email(fields.get("email")) if fields.get("email") or email_required else "",
        "amount": clean_amount(fields.get("amount")),
        "currency": currency,
        "occurred_at": clean_time(fields.get("occurred_at")),
        "referral_code": code,
        "phone": normalize_phone(fields.get("phone")),
        "payment_fingerprint": fingerprint,
    }
    row["content_hash"] = content_hash(row)
    return row


HASHED = ("email", "phone", "amount", "currency", "occurred_at", "referral_code", "payment_fingerprint")


def content_hash(row) -> str:
    """What makes a report "the same sale again": every reported field, not the external id (a dict or a Sale)."""
    if not isinstance(row, dict):
        row = {name: getattr(row, name) for name in HASHED}
    parts = (row["email"], row.get("phone") or "", str(row["amount"]), row["currency"],
             row["occurred_at"].astimezone(timezone.utc).isoformat(), row.get("referral_code") or "",
             row.get("payment_fingerprint") or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
