"""Saving and reading tax details: the tax id is encrypted before it reaches the session, shown masked, and read in
clear only by the audited tax export. Nothing here logs or audits a tax id."""
import re

import phonenumbers
from flask import current_app
from sqlalchemy import func

from rewards import audit, encryption
from rewards.errors import Conflict, InvalidInput
from rewards.extensions import db
from rewards.money import to_minor_units
from rewards.tax.models import TaxDetails

TAX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]{2,38}[A-Za-z0-9]$")
# ISO 3166-1 alpha-2 codes of the regions phonenumbers knows (every country a referrer can live in).
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS) - {"001"}
MASK = "••••"


def enabled() -> bool:
    return bool(current_app.config.get("TAX_DETAILS_ENABLED")) and encryption.is_configured()


def details_of(customer_id: int) -> TaxDetails | None:
    return db.session.scalar(db.select(TaxDetails).filter_by(customer_id=customer_id))


def save(customer, legal_name: str, country: str, tax_id: str | None, user=None) -> TaxDetails:
    """Store the customer's tax details (not committed); an empty `tax_id` keeps the stored one."""
    if not enabled():
        raise Conflict("Tax details cannot be stored here: DATA_ENCRYPTION_KEYS is not configured.")
    legal_name = " ".join((legal_name or "").split())
    country = (country or "").strip().upper()
    tax_id = (tax_id or "").strip()
    if not legal_name or len(legal_name) > 200:
        raise InvalidInput("Enter your legal name as on your tax documents (at most 200 characters).", "legal_name")
    if country not in COUNTRIES:
        raise InvalidInput("Choose a country by its two-letter code (ISO 3166-1, e.g. US, DE, JP).", "country")
    if tax_id and not TAX_ID.match(tax_id):
        raise InvalidInput("A tax id is 4 to 40 letters and digits (spaces, dots, slashes and dashes inside).",
                           "tax_id")
    details = details_of(customer.id) or TaxDetails(customer_id=customer.id)
    changed = [name for name, value in (("legal_name", legal_name), ("country", country))
               if getattr(details, name) != value] + (["tax_id"] if tax_id else [])
    details.legal_name, details.country = legal_name, country
    if tax_id:
        details.tax_id_encrypted = encryption.encrypt(tax_id)
    details.updated_by_id = getattr(user, "id", None)
    db.session.add(details)
    db.session.flush()
    audit.record("tax_details.updated", details, {"customer_id": customer.id, "fields": changed})
    return details


def mask(tax_id: str) -> str:
    """"DE123456789" → "••••6789"; short ids show nothing but the mask."""
    return MASK + tax_id[-4:] if len(tax_id) >= 8 else MASK


def masked_tax_id(details: TaxDetails | None) -> str | None:
    """The tax id as staff and the customer see it, or None when there is none (or no key opens it)."""
    if details is None or not details.tax_id_encrypted:
        return None
    try:
        return mask(encryption.decrypt(details.tax_id_encrypted))
    except (encryption.UndecryptableToken, encryption.EncryptionNotConfigured):
        return MASK + " (unreadable: key missing)"


def tax_id_in_clear(details: TaxDetails | None) -> str:
    """For the audited tax export only."""
    if details is None or not details.tax_id_encrypted:
        return ""
    return encryption.decrypt(details.tax_id_encrypted)


def missing(details: TaxDetails | None) -> list[str]:
    """What finance still needs from the referrer, in words."""
    if details is None:
        return ["legal name", "country", "tax id"]
    return [label for label, value in (("legal name", details.legal_name), ("country", details.country),
                                       ("tax id", details.tax_id_encrypted)) if not value]


def thresholds() -> dict[str, int]:
    """TAX_REPORTING_THRESHOLDS ("usd:600,eur:600", currency units) → {currency: minor units}."""
    result = {}
    for part in (current_app.config.get("TAX_REPORTING_THRESHOLDS") or "").split(","):
        if not part.strip():
            continue
        currency, _, amount = part.strip().partition(":")
        currency = currency.strip().lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise ValueError(f"TAX_REPORTING_THRESHOLDS: “{part.strip()}” is not currency:amount")
        result[currency] = to_minor_units(amount, currency)
    return result


def needs_tax_form(paid: int, currency: str, limits: dict[str, int] | None = None) -> bool:
    """Paid in the year at or above the currency's reporting threshold (no threshold: never)."""
    limit = (limits if limits is not None else thresholds()).get(currency)
    return limit is not None and paid >= limit


def rotate_all(progress=None) -> tuple[int, int]:
    """Re-encrypt every stored tax id under the first key, committing in chunks; (rotated, unreadable).

    Rows are locked while rotated, so a customer saving new details meanwhile is never overwritten by an old token.
    """
    rotated = unreadable = 0
    last_id = 0
    while True:
        rows = list(db.session.scalars(
            db.select(TaxDetails).where(TaxDetails.id > last_id, TaxDetails.tax_id_encrypted.is_not(None))
            .order_by(TaxDetails.id).limit(500).with_for_update()))
        if not rows:
            break
        for details in rows:
            try:
                details.tax_id_encrypted = encryption.rotate(details.tax_id_encrypted)
                rotated += 1
            except encryption.UndecryptableToken:
                unreadable += 1
        last_id = rows[-1].id
        db.session.commit()
        if progress:
            progress(len(rows))
    return rotated, unreadable


def stored_count() -> int:
    return db.session.scalar(db.select(func.count()).select_from(TaxDetails)
                             .where(TaxDetails.tax_id_encrypted.is_not(None)))
