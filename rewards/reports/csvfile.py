"""CSV files for spreadsheets and accountants: neutralised text cells, streamed in chunks, the same bytes over HTTP or
into a file.

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would run as a formula in a spreadsheet,
so it gets a leading apostrophe (OWASP's advice). Integers are written as numbers: a negative amount stays `-1234`.
"""
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NEEDS_QUOTES = frozenset(',"\r\n')
LINE_END = "\r\n"  # RFC 4180


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


class Report:
    """A CSV export: its header and the row batches of a server-side cursor, each row made a CSV line by `line`
    (cells through `text`, `number` and `utc_iso`, joined by commas, ending in CRLF)."""

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
