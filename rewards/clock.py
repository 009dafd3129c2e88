"""The one source of "now", in UTC, so tests (and the demo's replayed history) can fix time."""
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

_fixed: ContextVar[datetime | None] = ContextVar("fixed_now", default=None)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the fixed one inside `frozen_at`)."""
    return _fixed.get() or datetime.now(timezone.utc)


@contextmanager
def frozen_at(moment: datetime):
    """Within the block, "now" is `moment` for every rule and every row default that asks utcnow()."""
    token = _fixed.set(moment)
    try:
        yield moment
    finally:
        _fixed.reset(token)
