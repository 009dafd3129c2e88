"""CSV files for spreadsheets and accountants: neutralised text cells, streamed in chunks, the same bytes over HTTP or
into a file.

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would run as a formula in a spreadsheet,
so it gets a leading apostrophe (OWASP's advice). Integers are written as numbers: a negative amount stays `-1234`.
"""
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_CHARS = 64 * 1024


def neutralise(text: str) -> str:
    """A text cell a spreadsheet shows as text: `=1+2` → `'=1+2`; other text unchanged."""
    return "'" + text if text and text[0] in FORMULA_STARTS else text


def cell(value):
    """One cell: text neutralised, numbers kept as numbers, None empty, times in UTC ISO 8601 with `Z`."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, datetime):
        return utc_iso(value)
    return value


def utc_iso(moment: datetime) -> str:
    """2026-03-01T12:00:00Z (microseconds kept when there are any); a naive time is taken as UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat() + "Z"


class Report:
    """A CSV export: its header and the row batches of a server-side cursor, each row turned into cells by `row`."""

    def __init__(self, header: list[str], batches: Callable[[], Iterable[list]], row: Callable[[object], tuple],
                 count: Callable[[], int] | None = None):
        self.header, self.batches, self.row, self.count = header, batches, row, count

    def chunks(self) -> Iterator[str]:
        """The CSV text in pieces of about CHUNK_CHARS, header first; memory stays flat whatever the size."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.header)
        row = self.row
        for batch in self.batches():
            writer.writerows([row(item) for item in batch])
            if buffer.tell() >= CHUNK_CHARS:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    def write_to(self, path: str, progress: Callable[[int], None] | None = None) -> int:
        """Write the file; `progress(rows)` after each batch. Returns the number of rows written."""
        written = 0
        with open(path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(self.header)
            for batch in self.batches():
                writer.writerows([self.row(item) for item in batch])
                written += len(batch)
                if progress:
                    progress(len(batch))
        return written


def csv_response(report: Report, filename: str):
    """The report streamed as a text/csv download, row batches read while the response is sent."""
    from flask import Response, stream_with_context

    return Response(stream_with_context(report.chunks()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
