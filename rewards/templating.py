"""What every template may use: the navigation, the business name, the program in words, money and percent filters."""
from decimal import Decimal

from flask import current_app

from rewards.money import format_money
from rewards.navigation import nav_items


def money_filter(amount: int | None, currency: str) -> str:
    """Jinja: 1234|money("usd") → "12.34 USD"."""
    return "" if amount is None else format_money(amount, currency)


def percent_filter(value) -> str:
    """Jinja: Decimal("12.5000")|percent → "12.5"."""
    return "" if value is None else format(Decimal(value).normalize(), "f")


def business_name() -> str:
    return current_app.config.get("BUSINESS_NAME") or "Refero"


def program_sentences() -> list[str]:
    """The program in force per currency, in the referrer's words (sign-up and portal say what a referral earns)."""
    from rewards.programs.explain import programs_in_force, referrer_sentence

    return [referrer_sentence(program) for program in programs_in_force()]


def register_templating(app):
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["business_name"] = business_name
    app.jinja_env.globals["program_sentences"] = program_sentences
    app.jinja_env.filters["money"] = money_filter
    app.jinja_env.filters["percent"] = percent_filter
