"""Bounds at the edge: what an id, a page, an amount, a date or a piece of text may be.

Checked once, where input arrives: the API's marshmallow fields (rewards.schemas), the pages' query strings and
forms (the parsers below and the request guard), CSV rows and Stripe events (rewards.sales.rows). Anything out of
these bounds is refused with 422 (404 for an id in a path) before it can reach the database and fail there.
"""
import re
from datetime import date, datetime, time, timezone

from flask import request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestURITooLarge
from werkzeug.routing import IntegerConverter

from rewards.errors import InvalidInput

# Primary keys and amounts are 32-bit integer columns (PostgreSQL `integer`).
MAX_ID = 2**31 - 1
MAX_AMOUNT = 2**31 - 1
# A page number beyond this is refused: page × page size must stay a small offset.
MAX_PAGE = 100_000
# Dates and times people and systems may report: far enough back for old sales, never near datetime's limits.
MIN_DATE = date(1970, 1, 1)
MAX_DATE = date(2199, 12, 31)
MIN_TIME = datetime.combine(MIN_DATE, time(), tzinfo=timezone.utc)
MAX_TIME = datetime.combine(MAX_DATE, time.max, tzinfo=timezone.utc)
MAX_JSON_DEPTH = 32
# Python refuses to read longer integers (int_max_str_digits); an id or amount never needs more than 19.
MAX_JSON_DIGITS = 100
MAX_QUERY_STRING = 6144

# C0 controls but tab, newline and carriage return; DEL; and lone surrogates (not encodable as UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
TEXT_MESSAGE = "Remove the control characters (such as NUL) from this text."


def has_control_characters(value: str) -> bool:
    return bool(_CONTROL.search(value))


def check_text(value: str | None, field: str) -> str | None:
    """The text unchanged, or InvalidInput when it holds a control character."""
    if value is not None and has_control_characters(value):
        raise InvalidInput(TEXT_MESSAGE, field)
    return value


def date_in_range(value: date) -> bool:
    return MIN_DATE <= value <= MAX_DATE


def time_in_range(value: datetime) -> bool:
    """An aware datetime within [MIN_TIME, MAX_TIME] (compared in UTC, so any offset is fine)."""
    return MIN_TIME <= value <= MAX_TIME


DATE_MESSAGE = f"Give a date between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}."


def parse_date(value: str | None, field: str) -> date | None:
    """A YYYY-MM-DD string as a date within the sane range; None when empty; InvalidInput otherwise."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"“{value[:40]}” is not a date (YYYY-MM-DD).", field) from None
    if not date_in_range(parsed):
        raise InvalidInput(DATE_MESSAGE, field)
    return parsed


def parse_int(value: str | None, field: str, minimum: int = 1, maximum: int = MAX_ID) -> int | None:
    """A decimal integer string within [minimum, maximum]; None when empty; InvalidInput otherwise.

    Only ASCII digits count (`²`.isdigit() is true, but int() refuses it), and never more than a few of them.
    """
    value = (value or "").strip()
    if not value:
        return None
    digits = value[1:] if value[:1] == "-" else value
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise InvalidInput(f"Give a whole number between {minimum} and {maximum}.", field)
    number = int(value)
    if not minimum <= number <= maximum:
        raise InvalidInput(f"Give a whole number between {minimum} and {maximum}.", field)
    return number


def id_arg(name: str) -> int | None:
    """An id in a page's query string (`?assignee=12`): None when absent, 422 when not an id."""
    return parse_int(request.args.get(name), name)


def page_arg(name: str = "page") -> int:
    """A page number in a page's query string: 1 when absent, 422 beyond MAX_PAGE or when not a number."""
    return parse_int(request.args.get(name), name, 1, MAX_PAGE) or 1


def is_digits(term: str) -> bool:
    """A search term that is a number (a customer or user number): ASCII digits, short enough to be an id."""
    return 0 < len(term) <= 10 and term.isascii() and term.isdigit() and int(term) <= MAX_ID


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: 1…MAX_ID, at most ten digits; anything else matches no route (404)."""

    regex = r"\d{1,10}"

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


# A string literal, possessively (no backtracking); an unterminated one runs to the end of the body, so every
# scan is linear whatever the body (the JSON parser then refuses it).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.|\\\Z)*+(?:"|\Z)', re.DOTALL)
_JSON_BRACKETS = re.compile(rb"[\[\]{}]")
_LONG_NUMBER = re.compile(rb"\d{%d,}" % (MAX_JSON_DIGITS + 1))


def json_problem(body: bytes) -> str | None:
    """Why a JSON body may not be parsed at all (too deeply nested, an absurdly long number), or None."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH and not _LONG_NUMBER.search(body):
        return None  # nearly every body: counted in C, no need to look inside its strings
    outside_strings = _JSON_STRING.sub(b'""', body)
    if _LONG_NUMBER.search(outside_strings):
        return f"Numbers in the body have at most {MAX_JSON_DIGITS} digits."
    depth = 0
    for match in _JSON_BRACKETS.finditer(outside_strings):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return f"The body is nested more than {MAX_JSON_DEPTH} levels deep."
        else:
            depth -= 1
    return None


def _is_json_body() -> bool:
    return request.mimetype == "application/json" or request.mimetype.endswith("+json")


def guard_request():
    """Before every request: a bounded query string, a JSON body that can be parsed safely, and no control
    characters in query arguments or form fields."""
    from flask_smorest import abort

    if len(request.query_string) > MAX_QUERY_STRING:
        raise RequestURITooLarge(f"The query string is longer than {MAX_QUERY_STRING} bytes.")
    api = request.path.startswith("/api/")
    if _is_json_body() and request.method in ("POST", "PUT", "PATCH"):
        problem = json_problem(request.get_data(cache=True))
        if problem:
            abort(400, message=problem)
    for location, values in (("query", request.args), ("form", MultiDict() if api else request.form)):
        bad = [name for name, value in values.items(multi=True)
               if has_control_characters(name) or has_control_characters(value)]
        if bad:
            name = "".join(ch for ch in bad[0] if not has_control_characters(ch))[:50]
            if api:
                abort(422, message="Invalid input.", errors={location: {name: [TEXT_MESSAGE]}})
            raise InvalidInput(TEXT_MESSAGE, name)
    return None


def _id_parameter_schema(converter) -> dict:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def register_bounds(app):
    """The bounded id converter for every `<int:…>` route (before any route is added) and the request guard."""
    from rewards.extensions import api

    app.url_map.converters["int"] = IdConverter
    if not any(converter is IdConverter for converter, _ in api._converters):  # one Api serves every app
        api.register_converter(IdConverter, _id_parameter_schema)
    app.before_request(guard_request)
