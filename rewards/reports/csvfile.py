"""CSV files for spreadsheets and accountants: neutralised text cells, streamed in chunks, the same bytes over HTTP or
into a file.

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would run as a formula in a spreadsheet,
so it gets a leading apostrophe (OWASP's advice). Integers are written as numbers: a negative amount stays `-1234`.
A cell holding a comma, a quote or a line break is quoted as RFC 4180 asks. Times are UTC ISO 8601 with a `Z`.

Each rule is written twice, once in Python and once in SQL, and tests hold the two to the same output on SQLite and
PostgreSQL (tests/test_reports.py):
- in Python (`text`, `number`, `utc_iso`) for the cells only Python holds (a decrypted tax id, the statement's lines);
- in SQL (`text_cell`, `number_cell`, `time_cell`, joined by `csv_line`) for the big exports: the database writes each
  row's CSV line in the SELECT itself, so a million rows cost Python one string each, not a function call per cell.
"""
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from functools import reduce

from sqlalchemy import String, case, cast, func, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NEEDS_QUOTES = frozenset(',"\r\n')
LINE_END = "\r\n"  # RFC 4180


# ---- the cells in Python -------------------------------------------------------------------------------------------
def neutralise(text: str) -> str:
    """A text cell a spreadsheet shows as text: `=1+2` → `'=1+2`; other text unchanged."""
    return "'" + text if text and text[0] in FORMULA_STARTS else text


def text(value: str | None) -> str:
    """A text cell as it goes into the file: neutralised, then quoted as RFC 4180 asks when it holds a comma,
    a quote or a line break; None is empty."""
    if value is None:
        return ""
    if value and value[0] in FORMULA_STARTS:
        value = "'" + value
    if not NEEDS_QUOTES.isdisjoint(value):
        value = '"' + value.replace('"', '""') + '"'
    return value


def number(value: int | None) -> str:
    """An integer cell (a negative amount stays a number: `-300`); None is empty."""
    return "" if value is None else str(value)


def utc_iso(moment: datetime) -> str:
    """2026-03-01T12:00:00Z (microseconds kept when there are any); a naive time is taken as UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat() + "Z"


# ---- the same cells in SQL -----------------------------------------------------------------------------------------
def neutralised(column):
    """`neutralise` in SQL: the text with a leading apostrophe where it starts like a formula (NULL stays NULL)."""
    return case((func.substr(column, 1, 1).in_(FORMULA_STARTS), literal("'", String) + column), else_=column)


def text_cell(column):
    """`text` in SQL. Whether to quote is asked of the text as stored: the apostrophe neutralising adds is no reason
    to quote, and the expression stays small (the database computes it for every row)."""
    shown = neutralised(column)
    needs_quotes = or_(*(column.contains(char) for char in sorted(NEEDS_QUOTES)))
    return func.coalesce(case((needs_quotes, literal('"', String) + func.replace(shown, '"', '""')
                               + literal('"', String)), else_=shown), "")


def number_cell(column):
    """`number` in SQL."""
    return func.coalesce(cast(column, String), "")


class iso_utc(FunctionElement):
    """A timestamp as the text 2026-03-01T12:00:00Z (microseconds kept when there are any), per database."""

    type = String()
    name = "iso_utc"
    inherit_cache = True


@compiles(iso_utc, "postgresql")
def _iso_utc_postgresql(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return (f"replace(to_char(timezone('UTC', {column}), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
            "'.000000Z', 'Z')")


@compiles(iso_utc, "sqlite")
def _iso_utc_sqlite(element, compiler, **kw):
    # SQLite keeps UTC times as text, 'YYYY-MM-DD HH:MM:SS.ffffff' (rewards.dbtypes.UTCDateTime).
    column = compiler.process(element.clauses, **kw)
    return f"replace(replace({column}, ' ', 'T') || 'Z', '.000000Z', 'Z')"


def time_cell(column):
    """`utc_iso` in SQL (None is empty)."""
    return func.coalesce(iso_utc(column), "")


def csv_line(*cells):
    """A row's CSV line in SQL, line end left out: the cells (`text_cell`, `number_cell`, `time_cell`) joined by
    commas."""
    return reduce(lambda joined, cell: joined + literal(",", String) + cell, cells).label("line")


def database_line(written: str) -> str:
    """A Report's `line` for a line the database wrote (a SELECT of `csv_line` alone, read as scalars)."""
    return written + LINE_END


# ---- the file ------------------------------------------------------------------------------------------------------
class Report:
    """A CSV export: its header and the row batches of a server-side cursor, each row made a CSV line by `line`
    (the database's own, `database_line`, or cells through `text`, `number` and `utc_iso` joined by commas)."""

    def __init__(self, header: list[str], batches: Callable[[], Iterable[list]], line: Callable[[object], str],
                 count: Callable[[], int] | None = None):
        self.header, self.batches, self.line, self.count = header, batches, line, count

    def chunks(self) -> Iterator[str]:
        """The CSV text, header first, then one piece per batch of rows: memory stays flat whatever the size."""
        yield ",".join(self.header) + LINE_END
        line = self.line
        for batch in self.batches():
            yield "".join(map(line, batch))

    def write_to(self, path: str, progress: Callable[[int], None] | None = None) -> int:
        """Write the file; `progress(rows)` after each batch. Returns the number of rows written."""
        written = 0
        with open(path, "w", newline="", encoding="utf-8") as out:
            out.write(",".join(self.header) + LINE_END)
            for batch in self.batches():
                out.write("".join(map(self.line, batch)))
                written += len(batch)
                if progress:
                    progress(len(batch))
        return written


def csv_response(report: Report, filename: str):
    """The report streamed as a text/csv download, row batches read while the response is sent."""
    from flask import Response, stream_with_context

    return Response(stream_with_context(report.chunks()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
