"""Handing out pooled PostgreSQL connections that are still open, without a round trip to ask.

pool_pre_ping asks the server (SELECT 1) on every checkout: on an API call that records a sale, that round trip
was a tenth of the work. An idle connection is sent nothing by the server unless it is being closed (a restart,
a failover, an idle timeout, pg_terminate_backend): the server's last message and the end of the stream are then
readable at once. So a connection with anything to read, or one psycopg already knows is closed, is dropped and
the pool connects afresh (SQLAlchemy retries a checkout refused this way); a quiet one is handed out as it is.
SQLite keeps pool_pre_ping (a file, nothing to lose).
"""
import select

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError


def skip_pre_ping(app) -> None:
    """Before the engine is made (only its URL tells the database yet): PostgreSQL's checkouts are watched by
    still_open() instead of pinged."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
                                                   "pool_pre_ping": False}


def watch_checkouts(engine) -> None:
    if engine.dialect.name == "postgresql":
        event.listen(engine, "checkout", still_open)


def still_open(dbapi_connection, connection_record, connection_proxy) -> None:
    """Refuse (DisconnectionError) a pooled connection the server has closed, or that has anything to read."""
    if dbapi_connection.closed:  # psycopg: a broken connection is closed too
        raise DisconnectionError("The connection was closed.")
    readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    if readable:
        raise DisconnectionError("The server sent an idle connection something: most likely its goodbye.")
