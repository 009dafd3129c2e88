"""Paging SQLAlchemy selects for @blp.paginate: one page of rows, and the total for X-Pagination."""
from sqlalchemy import func, select

from rewards.extensions import db


def paginate(query, pagination_parameters):
    """One page of `query`'s rows; records the total count for the X-Pagination header."""
    pagination_parameters.item_count = db.session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery()))
    page, size = pagination_parameters.page, pagination_parameters.page_size
    return db.session.scalars(query.limit(size).offset((page - 1) * size)).all()
