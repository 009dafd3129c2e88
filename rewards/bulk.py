"""Writing many rows in one go inside the session's transaction: COPY on PostgreSQL, executemany elsewhere.

A re-validation writes tens of thousands of decisions, rewards, ledger legs and audit events. An
executemany sends each row as its own statement, and a multi-row INSERT costs psycopg a parse of a huge
statement per page; COPY streams the rows, and PostgreSQL runs constraints and triggers (the ledger's
deferred balance check among them) exactly as for INSERT.
"""
import functools
from operator import itemgetter

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from rewards.extensions import db

# Rows; below this a multi-row INSERT is as quick and needs no id allocated beforehand. Measured on PostgreSQL 15
# with psycopg 3.3 (audit events, CPU per row): at 25 rows COPY takes 0.026 ms, a multi-row INSERT 0.051 ms (0.050
# and 0.075 ms with the ids returned); at 10 rows they are about even. The payout executor writes a few dozen rows
# per table in each round of answers.
COPY_FROM = 20


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
    # Only the columns whose type converts values (JSON, UTC timestamps) pay a call per value.
    converted = [(index, process) for index, process in enumerate(_processors(table, columns)) if process is not None]
    values_of = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    cursor = db.session.connection().connection.driver_connection.cursor()
    quoted = ", ".join(f'"{name}"' for name in columns)
    with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        write = copy.write_row
        if not converted:
            for row in rows:
                write(values_of(row))
            return
        for row in rows:
            values = list(values_of(row))
            for index, process in converted:
                if values[index] is not None:
                    values[index] = process(values[index])
            write(values)


def new_ids(table: Table, count: int) -> list[int]:
    """`count` fresh primary keys from the table's sequence (PostgreSQL only)."""
    # The sequence is looked up once (a subquery), not per row: 12 ms instead of 60 for 26,400 ids.
    return list(db.session.scalars(
        text("SELECT nextval((SELECT pg_get_serial_sequence(:table, 'id'))::regclass) FROM generate_series(1, :count)"),
        {"table": table.name, "count": count}))


def insert_rows(table: Table, rows: list[dict], *, ids: bool = False) -> list[int]:
    """Insert `rows` (dicts with the same keys) into `table`; with ids=True, their new ids in the same order."""
    if not rows:
        return []
    if len(rows) < COPY_FROM or not _postgres():  # a few rows (one new sale): one INSERT is one round trip
        if not ids:
            db.session.execute(_insert(table, False), rows)
            return []
        return list(db.session.scalars(_insert(table, True), rows))
    allocated = new_ids(table, len(rows)) if ids else []
    _copy(table, [{"id": new_id, **row} for new_id, row in zip(allocated, rows)] if ids else rows)
    return allocated


@functools.cache
def _insert(table: Table, ids: bool):
    """INSERT INTO table (with its new ids returned in the rows' order): built once per table."""
    return insert(table).returning(table.c.id, sort_by_parameter_order=True) if ids else insert(table)


def analyze(table: Table) -> None:
    """PostgreSQL: fresh planner statistics for a table a bulk load just grew (inside the caller's transaction).

    Without them the next statements plan for the table as it was (autovacuum's analyze comes later, if it
    runs at all): matching a re-validation's sales by id then hashes the whole table instead of using its key.
    """
    if _postgres():
        db.session.execute(text(f'ANALYZE "{table.name}"'))


def without_jit() -> None:
    """PostgreSQL: no JIT compilation for the rest of this transaction.

    A bulk statement that walks an index per row (re-validation's matching) looks expensive to the planner,
    which then spends about half a second compiling it; the compiled plan saves nothing on such a walk.
    """
    if _postgres():
        db.session.execute(text("SET LOCAL jit = off"))


def among(column, values: list):
    """`column IN values`; on PostgreSQL `column = ANY(array)`, one parameter however long the list."""
    if _postgres():
        return column == func.any(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def among_param(column, name: str):
    """among() for a Prebuilt statement: `column` among the list bound to `name` each time the statement runs."""
    if _postgres():
        return column == func.any(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


_KEPT: dict = {}


def kept(key, anchor, build):
    """The statement `build()` made for `key`, kept while `anchor` (an object it was built from, such as a module's
    constant condition) is the same object. A caller that makes its anchor afresh for each call builds afresh, and
    no more than one statement is held per key."""
    remembered = _KEPT.get(key)
    if remembered is None or remembered[0] is not anchor:
        remembered = _KEPT[key] = (anchor, build())
    return remembered[1]


class Prebuilt:
    """A statement a request runs every time, built once per process and database, then run with its values bound
    by name: `@Prebuilt def statement(): return select(...)…`, `db.session.execute(statement(), {...})`.

    Building a statement and computing its cache key cost SQLAlchemy more than running it: a sale's facts (a
    subquery and a join) took 2.1 ms built afresh and 0.44 ms prebuilt, and a sale that qualifies a referral runs
    about twenty such statements.
    """

    def __init__(self, build):
        self._build = build
        self._built: dict[str, object] = {}
        self.__doc__ = build.__doc__

    def __call__(self):
        dialect = db.session.get_bind().dialect.name
        statement = self._built.get(dialect)
        if statement is None:
            statement = self._built[dialect] = self._build()
        return statement


def update_rows(table: Table, key: str, values: dict[str, object], rows: list[dict], where=None, *,
                match: tuple[str, ...] = (), returning: bool = False) -> list:
    """UPDATE table SET <columns from each row, plus fixed `values`> WHERE table.<key> = row[key]
    [AND table.<m> = row[m] for each m in `match`] [AND where]; with returning=True, the keys of the rows updated.

    On PostgreSQL one statement joins the rows, passed as arrays; elsewhere an executemany (one statement per row
    when the keys are returned).
    """
    if not rows:
        return []
    columns = [name for name in rows[0] if name != key and name not in match]
    if not _postgres():
        statement = update(table).where(table.c[key] == bindparam(f"b_{key}"),
                                        *[table.c[name] == bindparam(f"b_{name}") for name in match])
        if where is not None:
            statement = statement.where(where)
        statement = statement.values({**{name: bindparam(f"b_{name}") for name in columns}, **values})
        params = [{f"b_{name}": value for name, value in row.items()} for row in rows]
        if returning:
            statement = statement.returning(table.c[key])
            return [updated for row in params for updated in db.session.scalars(statement, row)]
        db.session.execute(statement, params)
        return []
    names = [key, *match, *columns]
    statement = _array_update(table, key, tuple(names), tuple(match), tuple(values), where, returning)
    params = {**{f"a_{name}": [row[name] for row in rows] for name in names},
              **{f"f_{name}": value for name, value in values.items()}}
    if returning:
        return list(db.session.scalars(statement, params))
    db.session.execute(statement, params)
    return []


def _array_update(table: Table, key: str, names: tuple, match: tuple, fixed: tuple, where, returning: bool):
    """update_rows()'s statement on PostgreSQL, its values bound by name (a_<column> arrays, f_<column> fixed).

    Built once for each shape and kept while `where` is the same object (kept()): a sale that qualifies a referral
    runs two of these, each guarded by a module's constant condition.
    """
    def build():
        arrays = select(*[func.unnest(bindparam(f"a_{name}", type_=ARRAY(table.c[name].type))).label(name)
                          for name in names]).subquery("v")
        columns = [name for name in names if name != key and name not in match]
        statement = (update(table)
                     .where(table.c[key] == arrays.c[key], *[table.c[name] == arrays.c[name] for name in match])
                     .values({**{name: arrays.c[name] for name in columns},
                              **{name: bindparam(f"f_{name}", type_=table.c[name].type) for name in fixed}}))
        if where is not None:
            statement = statement.where(where)
        return statement.returning(table.c[key]) if returning else statement

    return kept(("array update", table, key, names, match, fixed, returning), where, build)
