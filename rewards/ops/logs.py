"""JSON log lines with a request id that follows a request into the Celery tasks it queues; secrets redacted.

Every line passes through `redact()`: values under sensitive names (passwords, tokens, keys, signatures,
tax ids, card fingerprints) are replaced, and secret-shaped text (Stripe keys, webhook secrets, API keys,
bearer tokens, US tax ids) is masked wherever it appears, tracebacks included.
"""
import contextvars
import logging
import re
import sys
import uuid

from pythonjsonlogger.json import JsonFormatter

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
# An id handed in by a load balancer is kept when it looks like one; anything else is replaced.
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

REDACTED = "[redacted]"
SENSITIVE_NAME = re.compile(r"pass(word|wd)?|secret|token|authori[sz]ation|api_?key|cookie|signature|"
                            r"tax|fingerprint|ssn|card|encryption_?key", re.I)
_SECRET_TEXT = (
    (re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]+"), r"\1_\2_" + REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9_]+"), "whsec_" + REDACTED),
    (re.compile(r"\brk_[A-Za-z0-9_-]{8,}"), "rk_" + REDACTED),  # Refero's own API keys
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s,;\"']+"), r"\1 " + REDACTED),
    (re.compile(r"(?i)([\"']?[a-z_-]*(?:pass(?:word)?|secret|token|api_?key|tax_?id|fingerprint|signature)"
                r"[\"']?\s*[:=]\s*[\"']?)[^\s,;&\"'}]+"), r"\1" + REDACTED),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), REDACTED),  # SSN / ITIN
    (re.compile(r"\b\d{2}-\d{7}\b"), REDACTED),  # EIN
)


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def redact(value, name: str = ""):
    """The value fit for a log line: nested dicts and lists walked, sensitive names and secret shapes masked."""
    if name and SENSITIVE_NAME.search(name) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact(item, str(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return value


def current_request_id() -> str | None:
    return request_id_var.get()


def new_request_id(incoming: str | None = None) -> str:
    return incoming if incoming and _INCOMING_ID.match(incoming) else uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request (or task's originating request) id in this context."""

    def filter(self, record):
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, request_id and extras, all redacted."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", False)
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs)

    def formatTime(self, record, datefmt=None):
        from datetime import datetime, timezone

        return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds") \
            .replace("+00:00", "Z")

    def process_log_record(self, log_data):
        return {key: redact(value, key if key not in ("message", "exc_info", "stack_info") else "")
                for key, value in log_data.items()}


class AccessJsonFormatter(RedactingJsonFormatter):
    """gunicorn's access log (its record carries the request's atoms as args) in the same JSON shape."""

    def add_fields(self, log_data, record, message_dict):
        atoms = record.args if isinstance(record.args, dict) else {}
        super().add_fields(log_data, record, message_dict)
        if not atoms:
            return
        log_data.update({
            "message": f"{atoms.get('m')} {redact_text(atoms.get('U') or '')} {atoms.get('s')}",
            "method": atoms.get("m"), "path": atoms.get("U"), "query": _redact_query(atoms.get("q") or ""),
            "status": _int(atoms.get("s")), "bytes": _int(atoms.get("B")),
            "duration_ms": round(_int(atoms.get("D")) / 1000, 2), "remote_addr": atoms.get("h"),
            "user_agent": atoms.get("a"), "request_id": atoms.get("{x-request-id}o") or None,
        })


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _redact_query(query: str) -> str:
    parts = []
    for part in query.split("&") if query else []:
        key, sep, value = part.partition("=")
        parts.append(f"{key}={REDACTED}" if sep and SENSITIVE_NAME.search(key) else part)
    return redact_text("&".join(parts))


def json_handler(stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingJsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.refero_json = True
    return handler


def configure_json_logging(level="INFO", stream=None) -> None:
    """Root logger → one JSON line per record on standard error (once per process)."""
    root = logging.getLogger()
    if not any(getattr(handler, "refero_json", False) for handler in root.handlers):
        root.addHandler(json_handler(stream))
    root.setLevel(level)
    # Flask-Migrate's Alembic announces its plugins at INFO in every process that builds the app.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # The Stripe SDK logs two INFO lines per API call; the payout executor records every call's outcome on the
    # item itself, and formatting those lines was a large share of its own CPU per transfer (bench.payouts).
    # STRIPE_LOG=info (the SDK's own switch) still prints them when someone is debugging a Stripe exchange.
    logging.getLogger("stripe").setLevel(logging.WARNING)


def _start_request():
    from flask import g, request

    g.request_id = new_request_id(request.headers.get(REQUEST_ID_HEADER))
    g.request_id_token = request_id_var.set(g.request_id)


def _answer_with_request_id(response):
    from flask import g

    if getattr(g, "request_id", None):
        response.headers[REQUEST_ID_HEADER] = g.request_id
    return response


def _end_request(_exc=None):
    from flask import g

    token = g.pop("request_id_token", None)
    if token is not None:
        request_id_var.reset(token)


def register_logging(app):
    """Request ids on every request (and its answer's X-Request-ID); JSON lines when LOG_FORMAT is json."""
    if app.config.get("LOG_FORMAT") == "json":
        configure_json_logging(app.config.get("LOG_LEVEL", "INFO"))
        app.logger.handlers.clear()  # records reach the root's JSON handler, not Flask's plain one
        app.logger.propagate = True
    app.before_request(_start_request)
    app.after_request(_answer_with_request_id)
    app.teardown_request(_end_request)
    connect_task_signals()


_connected = []


def connect_task_signals():
    """A queued task carries the request id in its headers; the worker logs under it while it runs."""
    if _connected:
        return
    from celery.signals import before_task_publish, task_postrun, task_prerun

    def stamp(headers=None, **_):
        request_id = request_id_var.get()
        if headers is not None and request_id and "request_id" not in headers:
            headers["request_id"] = request_id

    def enter(task=None, **_):
        if task is None:
            return
        request_id = getattr(task.request, "request_id", None) or (task.request.headers or {}).get("request_id")
        task.request.refero_token = request_id_var.set(request_id or request_id_var.get())

    def leave(task=None, **_):
        token = getattr(task.request, "refero_token", None) if task is not None else None
        if token is not None:
            try:
                request_id_var.reset(token)
            except ValueError:  # set in another context (eager runs nest inside the request)
                pass

    before_task_publish.connect(stamp, weak=False)
    task_prerun.connect(enter, weak=False)
    task_postrun.connect(leave, weak=False)
    _connected.append(True)
