"""Normalising the ways people are identified: email addresses and phone numbers."""
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context

from rewards.errors import InvalidInput


def normalize_email(value: str, field: str = "email") -> str:
    """Trimmed, validated, lower-cased address; raises InvalidInput with a sentence a person understands."""
    value = (value or "").strip()
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"Not a valid email address: {exc}", field) from None
    return result.normalized.lower()


def normalize_phone(value: str | None, field: str = "phone") -> str | None:
    """E.164 form (+14155550123) or None when empty; numbers without +country use DEFAULT_PHONE_REGION."""
    value = (value or "").strip()
    if not value:
        return None
    region = current_app.config.get("DEFAULT_PHONE_REGION", "US") if has_app_context() else "US"
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("Not a valid phone number.", field) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("Not a valid phone number.", field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def canonical_email(email: str) -> str:
    """The mailbox an address delivers to: plus-tags dropped, and dots too for gmail.com (self-referral checks)."""
    local, _, domain = email.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"
