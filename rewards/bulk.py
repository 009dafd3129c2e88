"""Writing many rows in one go inside the session's transaction: COPY on PostgreSQL, executemany elsewhere.

A re-validation writes tens of thousands of decisions, rewards, ledger legs and audit events. An
executemany sends each row as its own statement, and a multi-row INSERT costs psycopg a parse of a huge
statement per page; COPY streams the rows, and PostgreSQL runs constraints and triggers (the ledger's
deferred balance check among them) exactly as for INSERT.
"""
from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from rewards.extensions import db

COPY_FROM = 100  # rows; below this a multi-row INSERT is as quick and needs no id allocated beforehand


def chunks(items: list, size: int):
    """`items` in consecutive slices of at most `size`, to keep each IN list or statement bounded."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _processors(table: Table, columns: list[str]) -> list:
    dialect = db.session.get_bind().dialect
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def _copy(table: Table, rows: list[dict]) -> None:
    columns = list(rows[0])
    processors = _processors(table, columns)
    cursor = db.session.connection().connection.driver_connection.cursor()
    quoted = ", ".join(f'"{name}"' for name in columns)
    with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([value if process is None or value is None else process(value)
                            for process, value in zip(processors, (row[name] for name in columns))])


def new_ids(table: Table, count: int) -> list[int]:
    """`count` fresh primary keys from the table's sequence (PostgreSQL only)."""
    return list(db.session.scalars(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
        {"table": table.name, "count": count}))


def insert_rows(table: Table, rows: list[dict], *, ids: bool = False) -> list[int]:
    """Insert `rows` (dicts with the same keys) into `table`; with ids=True, their new ids in the same order."""
    if not rows:
        return []
    if len(rows) < COPY_FROM or not _postgres():  # a few rows (one new sale): one INSERT is one round trip
        if not ids:
            db.session.execute(insert(table), rows)
            return []
        return list(db.session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows))
    allocated = new_ids(table, len(rows)) if ids else []
    _copy(table, [{"id": new_id, **row} for new_id, row in zip(allocated, rows)] if ids else rows)
    return allocated


def among(column, values: list):
    """`column IN values`; on PostgreSQL `column = ANY(array)`, one parameter however long the list."""
    if _postgres():
        return column == func.any(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def update_rows(table: Table, key: str, values: dict[str, object], rows: list[dict], where=None) -> None:
    """UPDATE table SET <columns from each row, plus fixed `values`> WHERE table.<key> = row[key] [AND where].

    On PostgreSQL one statement joins the rows, passed as arrays; elsewhere an executemany.
    """
    if not rows:
        return
    columns = [name for name in rows[0] if name != key]
    if not _postgres():
        statement = update(table).where(table.c[key] == bindparam(f"b_{key}"))
        if where is not None:
            statement = statement.where(where)
        statement = statement.values({**{name: bindparam(f"b_{name}") for name in columns}, **values})
        db.session.execute(statement, [{f"b_{name}": value for name, value in row.items()} for row in rows])
        return
    names = [key, *columns]
    arrays = select(*[func.unnest(bindparam(f"a_{name}", [row[name] for row in rows],
                                            type_=ARRAY(table.c[name].type))).label(name)
                      for name in names]).subquery("v")
    statement = (update(table).where(table.c[key] == arrays.c[key])
                 .values({**{name: arrays.c[name] for name in columns}, **values}))
    if where is not None:
        statement = statement.where(where)
    db.session.execute(statement)
