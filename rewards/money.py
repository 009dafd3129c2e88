"""Money as an integer in the currency's minor unit plus a lower-case ISO code, as Stripe does."""
from decimal import ROUND_HALF_EVEN, Decimal

# Stripe's zero-decimal currencies: the amount is already in whole units (¥500 is 500).
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                "xaf", "xof", "xpf"}


def minor_unit_digits(currency: str) -> int:
    return 0 if currency.lower() in ZERO_DECIMAL else 2


def to_minor_units(text: str, currency: str) -> int:
    """What a person typed in currency units ("12.34", "1,000") → minor units; ValueError if it is not that."""
    digits = minor_unit_digits(currency)
    try:
        value = Decimal(str(text).replace(",", "").strip())
    except ArithmeticError:
        raise ValueError(f"“{text}” is not an amount.") from None
    if not value.is_finite() or value != value.quantize(Decimal(1).scaleb(-digits)):
        raise ValueError(f"“{text}” is not an amount in {currency.upper()} ({digits} decimals at most).")
    return int(value.scaleb(digits))


def percent_of(amount: int, percent: Decimal) -> int:
    """`percent` % of `amount` minor units, rounded half-even to the minor unit (Decimal only inside)."""
    result = (Decimal(amount) * Decimal(percent) / Decimal(100)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(result)


def format_money(amount: int, currency: str) -> str:
    """1234, "usd" → "12.34 USD"; 500, "jpy" → "500 JPY"."""
    digits = minor_unit_digits(currency)
    value = Decimal(amount).scaleb(-digits)
    return f"{value:,.{digits}f} {currency.upper()}"
