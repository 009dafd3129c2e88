"""Normalising the ways people are identified: email addresses and phone numbers."""
import re

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from flask import current_app, has_app_context

from rewards.errors import InvalidInput


# Plain ASCII addresses (nearly all of them) are valid exactly when this matches, and normalise to their
# lower-case form; checking them without email_validator keeps a million-row import fast.
_PLAIN_EMAIL = re.compile(r"^(?=[^@]{1,64}@)[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                          r"@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63})$")


def normalize_email(value: str, field: str = "email") -> str:
    """Trimmed, validated, lower-cased address; raises InvalidInput with a sentence a person understands."""
    value = (value or "").strip()
    plain = _PLAIN_EMAIL.match(value.lower()) if len(value) <= 254 else None
    if plain and plain.group(4) not in SPECIAL_USE_DOMAIN_NAMES:
        return value.lower()
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
    region = default_phone_region()
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"Not a valid phone number. {phone_hint()}", field) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(f"Not a valid phone number. {phone_hint()}", field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def default_phone_region() -> str:
    return (current_app.config.get("DEFAULT_PHONE_REGION") or "US").upper() if has_app_context() else "US"


def phone_hint() -> str:
    """The formats a phone field takes, with an example number of DEFAULT_PHONE_REGION."""
    region = default_phone_region()
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE) \
        or phonenumbers.example_number(region)
    if example is None:
        return "Write it with + and the country code, e.g. +1 201 555 0123."
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    return (f"Write a {region} number with its area code, e.g. {national}, "
            f"or any number with + and its country code.")


def canonical_email(email: str) -> str:
    """The mailbox an address delivers to: plus-tags dropped, and dots too for gmail.com (self-referral checks)."""
    local, _, domain = email.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"
