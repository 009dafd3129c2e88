"""Staff search: a name or an email containing the words typed, served by trigram indexes on PostgreSQL.

One rule for every database: `lower(name) LIKE '%term%' OR email LIKE '%term%'` (emails are stored lower-case).
PostgreSQL answers it from the pg_trgm GIN indexes of migration 0011; SQLite gives the same rows by scanning.
A term of one or two characters has no trigram, so it matches the start of a name, a word in it, or an email.
"""
from sqlalchemy import func, or_

TRIGRAM = 3
# A search counts its matches up to here only: a common surname matches 1 in 11 of a million referrals, and
# counting all of them would cost more than every other part of the page (the page itself reads 50 rows).
SEARCH_COUNT_CAP = 1_000


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(term: str) -> str:
    """A LIKE pattern for "contains `term`" (lower-cased), with LIKE's wildcards taken literally."""
    return f"%{_escaped(term.strip().lower())}%"


def name_or_email_matches(name_column, email_column, term: str):
    """The WHERE clause for a staff search box over one name and one email column."""
    term = " ".join(term.split()).lower()
    name, email = func.lower(name_column), email_column
    if len(term) < TRIGRAM:
        start = _escaped(term) + "%"
        return or_(name.like(start, escape="\\"), name.like("% " + start, escape="\\"),
                   email.like(start, escape="\\"))
    pattern = like_pattern(term)
    return or_(name.like(pattern, escape="\\"), email.like(pattern, escape="\\"))
