"""Paging for staff lists over large tables: offset pages with a capped count, so a million rows stay fast."""
from dataclasses import dataclass
from math import ceil

from flask import request
from sqlalchemy import func, select

from rewards.bounds import page_arg  # noqa: F401  (the pages' one page-number parser)
from rewards.extensions import db

COUNT_CAP = 10_000


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int
    # True when there are more than `total` rows: counting them all would cost more than it tells.
    capped: bool

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0


def capped_page(query, page: int, per_page: int = 50, cap: int = COUNT_CAP, scalars: bool = True) -> Page:
    """One page of `query`; counts at most `cap` rows and pages no further than that."""
    counted = select(func.count()).select_from(query.order_by(None).with_only_columns(
        *query.selected_columns[:1]).limit(cap + 1).subquery())
    total = db.session.scalar(counted)
    capped = total > cap
    total = min(total, cap)
    page = max(1, min(page, max(1, ceil(total / per_page))))
    rows = query.limit(per_page).offset((page - 1) * per_page)
    items = db.session.scalars(rows).all() if scalars else db.session.execute(rows).all()
    return Page(items, page, per_page, total, capped)


def url_args(**changes) -> dict:
    """The current query string with some keys changed (None drops a key): for pager and sort links."""
    args = {key: value for key, value in request.args.items() if value != ""}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return args
