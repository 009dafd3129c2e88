"""Forms of the coordinator's program pages: a new version, and a what-if run."""
import re
from datetime import timezone
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import (DateField, SelectChoice, DateTimeLocalField, IntegerField, SelectField, StringField, SubmitField,
                     TextAreaField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from rewards.errors import InvalidInput
from rewards.money import amount_text, parse_money
from rewards.forms import sane_date
from rewards.programs.models import REWARD_TYPES

UNITS = "in the currency's units, e.g. 50 or 49.99"
AMOUNT_FIELDS = ("amount", "min_sale_amount", "max_reward_amount", "yearly_cap_amount", "referee_credit_amount")
TIER_LINE = re.compile(r"^\s*(\d+)\s*[:=]\s*([0-9.]+)\s*(%?)\s*$")


def optional_amount(label):
    return StringField(f"{label} ({UNITS}, optional)", validators=[Optional(), Length(max=24)],
                       render_kw={"inputmode": "decimal", "autocomplete": "off"})


class RulesForm(FlaskForm):
    currency = StringField("Currency (ISO code, e.g. usd)", validators=[DataRequired(), Length(min=3, max=3)])
    reward_type = SelectField("Reward type", choices=[SelectChoice(t) for t in REWARD_TYPES])
    amount = optional_amount("Flat amount")
    percent = StringField("Percent of the sale (e.g. 12.5)", validators=[Optional(), Length(max=12)])
    min_sale_amount = StringField(f"Minimum sale ({UNITS}; 0 for any sale)", default="0",
                                  validators=[InputRequired(), Length(max=24)],
                                  render_kw={"inputmode": "decimal", "autocomplete": "off"})
    max_reward_amount = optional_amount("Maximum reward per referral")
    yearly_cap_amount = optional_amount("Yearly cap per referrer")
    tiers = TextAreaField("Tiers (optional): one per line, “5: 15.00” (flat, in the currency's units) or “5: 12.5%”, from the 5th "
                          "qualified referral of a calendar year", validators=[Optional(), Length(max=2000)])
    attribution_days = IntegerField("Attribution window (days)", default=30,
                                    validators=[InputRequired(), NumberRange(min=0, max=3650)])


class ProgramForm(RulesForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    hold_days = IntegerField("Hold period (days)", default=30,
                             validators=[InputRequired(), NumberRange(min=0, max=3650)])
    referee_coupon_code = StringField("Coupon code for the new customer (optional)",
                                      validators=[Optional(), Length(max=64)])
    referee_credit_amount = optional_amount("Credit for the new customer")
    effective_from = DateTimeLocalField("Effective from (UTC; empty: now)", validators=[Optional(), sane_date])
    submit = SubmitField("Create version")


class WhatIfForm(RulesForm):
    class Meta:
        csrf = False  # a read-only GET form: nothing changes

    from_date = DateField("Sales from", validators=[DataRequired(), sane_date])
    to_date = DateField("Sales to", validators=[DataRequired(), sane_date])
    submit = SubmitField("Run")


def _percent(text: str, field: str) -> Decimal | None:
    if not text or not text.strip():
        return None
    try:
        return Decimal(text.strip().rstrip("%"))
    except InvalidOperation:
        raise InvalidInput("Not a valid number.", field) from None


def parse_tiers(text: str | None, currency: str) -> list[dict]:
    """“5: 15.00” → a flat tier of 15.00 from the 5th referral; “10: 12.5%” → a percent tier."""
    tiers = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        match = TIER_LINE.match(line)
        if not match:
            raise InvalidInput(f"Cannot read the tier “{line.strip()}”: write “5: 15.00” or “5: 12.5%”.", "tiers")
        start, value, is_percent = match.groups()
        if is_percent:
            tiers.append({"from_referral": int(start), "amount": None, "percent": _percent(value, "tiers")})
        else:
            tiers.append({"from_referral": int(start), "amount": parse_money(value, currency, "tiers"),
                          "percent": None})
    return tiers


def rules_from_form(form: RulesForm) -> dict:
    """The form's rules as create_program()/what_if() take them."""
    rules = {name: field.data for name, field in form._fields.items()
             if name not in ("csrf_token", "submit", "tiers", "percent")}
    rules["currency"] = currency = (rules.get("currency") or "").strip().lower()
    for name in AMOUNT_FIELDS:
        if name in rules:
            rules[name] = parse_money(rules[name], currency, name)
    if rules.get("min_sale_amount") is None:
        rules["min_sale_amount"] = 0
    rules["percent"] = _percent(form.percent.data, "percent")
    rules["tiers"] = parse_tiers(form.tiers.data, currency)
    if rules.get("effective_from"):
        rules["effective_from"] = rules["effective_from"].replace(tzinfo=timezone.utc)
    return rules


def rules_as_form_data(program) -> dict:
    """A version's rules as the form shows them (amounts in units): a new version starts from the one in force."""
    currency = program.currency
    data = {"name": program.name, "currency": currency, "reward_type": program.reward_type,
            "percent": format(program.percent.normalize(), "f") if program.percent is not None else "",
            "attribution_days": program.attribution_days, "hold_days": program.hold_days,
            "referee_coupon_code": program.referee_coupon_code or ""}
    for name in AMOUNT_FIELDS:
        data[name] = amount_text(getattr(program, name), currency)
    data["tiers"] = "\n".join(
        f"{t.from_referral}: {amount_text(t.amount, currency)}" if t.amount is not None
        else f"{t.from_referral}: {format(t.percent.normalize(), 'f')}%" for t in program.tiers)
    return data
