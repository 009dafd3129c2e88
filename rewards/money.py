"""Money as an integer in the currency's minor unit plus a lower-case ISO code, as Stripe does."""
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# Stripe's zero-decimal currencies: the amount is already in whole units (¥500 is 500).
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                "xaf", "xof", "xpf"}
# Stripe's three-decimal currencies: 1.234 KWD is 1234.
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}


def minor_unit_digits(currency: str) -> int:
    """Digits after the decimal point in the currency's major unit: 0 (jpy), 2 (usd) or 3 (kwd)."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL:
        return 0
    return 3 if currency in THREE_DECIMAL else 2


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


def format_amount(amount: int, currency: str) -> str:
    """1234, "usd" → "12.34"; -1234, "kwd" → "-1.234"; 500, "jpy" → "500": no grouping, for files."""
    digits = minor_unit_digits(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


def format_money(amount: int, currency: str) -> str:
    """1234, "usd" → "12.34 USD"; 500, "jpy" → "500 JPY"; 1234, "kwd" → "1.234 KWD"; for people."""
    digits = minor_unit_digits(currency)
    value = Decimal(amount).scaleb(-digits)
    return f"{value:,.{digits}f} {currency.upper()}"


def parse_money(text: str | None, currency: str, field: str = "amount") -> int | None:
    """What a person typed, in the currency's units ("50", "30.00", "1,250.5"), as minor units; None when empty.

    Raises InvalidInput (naming `field`) for anything else: letters, negative amounts, more decimals than the
    currency has (a cent is the smallest step of "usd", a yen of "jpy").
    """
    from rewards.errors import InvalidInput

    text = (text or "").strip().replace(",", "").replace(" ", "")
    if not text:
        return None
    for symbol in ("$", "€", "£", "¥"):
        text = text.removeprefix(symbol)
    digits = minor_unit_digits(currency or "usd")
    unit = currency.upper() if currency else "the currency"
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"Write an amount in {unit}, e.g. {example_amount(currency)}.", field) from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"Write an amount in {unit} of zero or more.", field)
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        raise InvalidInput(f"{unit} amounts have at most {digits} decimals." if digits else
                           f"{unit} amounts are whole numbers.", field)
    from rewards.bounds import MAX_AMOUNT

    if minor > MAX_AMOUNT:  # what the amount columns hold
        raise InvalidInput(f"That amount is too large: at most {amount_text(MAX_AMOUNT, currency)} {unit}.", field)
    return int(minor)


def amount_text(amount: int | None, currency: str) -> str:
    """Minor units as a person types them back into a form: 5000, "usd" → "50.00"; 500, "jpy" → "500"."""
    if amount is None:
        return ""
    digits = minor_unit_digits(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


def example_amount(currency: str | None) -> str:
    return "500" if currency and minor_unit_digits(currency) == 0 else "50.00"
