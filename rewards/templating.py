"""What every template may use: the navigation and the money and percent filters."""
from decimal import Decimal

from rewards.money import format_money
from rewards.navigation import nav_items


def money_filter(amount: int | None, currency: str) -> str:
    """Jinja: 1234|money("usd") → "12.34 USD"."""
    return "" if amount is None else format_money(amount, currency)


def percent_filter(value) -> str:
    """Jinja: Decimal("12.5000")|percent → "12.5"."""
    return "" if value is None else format(Decimal(value).normalize(), "f")


def register_templating(app):
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.filters["money"] = money_filter
    app.jinja_env.filters["percent"] = percent_filter
    app.context_processor(_business)


def _business():
    """The business's name and support address, on every page."""
    from rewards.mail.service import business

    return business()
