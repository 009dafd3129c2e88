"""Who an API key is, remembered by each process between calls, and forgotten everywhere when accounts change.

Every /api/v1 call reads its key and the key's user: on a busy integration, one statement per call, with the same
answer each time (about a sixth of recording a sale that proves nothing). Each process remembers that answer, tagged
with a counter in Redis that every committed change to a user or an API key increments (a key revoked, a user
disabled, a key created). A process reads the counter (one Redis GET) at most every CHECK_SECONDS, and trusts a
remembered answer only under the same counter, so a key revoked in any process is refused by every other within
CHECK_SECONDS (in its own process, at once). The counter is read before the database, and bumped after the change
commits: no order of the two lets a process remember an answer older than the counter it is tagged with.

Without Redis (the embedded default) or while Redis does not answer, nothing is remembered: each call reads the
database, as before. A change made outside the app (psql), or committed while Redis does not answer, does not
bump the counter: MEMORY_SECONDS bounds how long a process may trust an answer it remembered.
"""
import logging
import time

import redis
from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached, object_session

log = logging.getLogger(__name__)

VERSION_KEY = "refero:accounts:version"
MEMORY_SECONDS = 30
RETRY_SECONDS = 5
# The counter is read at most this often by a process: a change reaches every process within it. Read on every
# call, it was a tenth of the CPU of an API call that records a sale (a Redis round trip through redis-py).
CHECK_SECONDS = 0.1
EXTENSION = "refero_api_key_memory"
# Session.info flag: a user or an API key was written since the last commit. Left as it is by a rollback (a
# savepoint's included): forgetting once too often costs one query per process.
_CHANGED = "refero_accounts_changed"


class Remembered:
    """A live key as the database answered: its id, its user's id, its last use (kept current by this process),
    and a detached copy of its user."""

    __slots__ = ("id", "user_id", "last_used_at", "user", "version", "until")

    def __init__(self, key_id, user_id, last_used_at, user, version, until):
        self.id, self.user_id, self.last_used_at = key_id, user_id, last_used_at
        self.user, self.version, self.until = user, version, until


class KeyMemory:
    def __init__(self, redis_url: str):
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self.entries: dict[str, Remembered] = {}
        self.asleep_until = 0.0
        self.checked, self.checked_until = None, 0.0

    def version(self) -> bytes | None:
        """The accounts' counter as read at most CHECK_SECONDS ago; None when Redis does not answer (then nothing
        is remembered or recalled).

        After a failure Redis is left alone for RETRY_SECONDS: a Redis that swallows packets would otherwise cost
        every API call the connect timeout before it asks the database."""
        now = time.monotonic()
        if now < self.asleep_until:
            return None
        if now < self.checked_until:
            return self.checked
        try:
            self.checked = self.redis.get(VERSION_KEY) or b"0"
        except redis.RedisError:
            self.asleep_until = time.monotonic() + RETRY_SECONDS
            self.entries.clear()  # a change made meanwhile cannot bump the counter: ask the database afresh
            return None
        self.checked_until = now + CHECK_SECONDS
        return self.checked

    def recall(self, key_hash: str, version: bytes) -> Remembered | None:
        known = self.entries.get(key_hash)
        if known is None or known.version != version or known.until < time.monotonic():
            return None
        return known

    def remember(self, key_hash: str, version: bytes, key_id: int, user_id: int, last_used_at, user) -> None:
        self.entries[key_hash] = Remembered(key_id, user_id, last_used_at, _detached_copy(user), version,
                                            time.monotonic() + MEMORY_SECONDS)

    def noted_use(self, key_id: int, at) -> None:
        for known in list(self.entries.values()):  # a threaded server may remember another key meanwhile
            if known.id == key_id:
                known.last_used_at = at

    def forget_everywhere(self) -> None:
        self.entries.clear()
        self.checked_until = 0.0  # this process reads the new counter at its next call
        try:
            self.redis.incr(VERSION_KEY)
        except redis.RedisError:
            log.warning("Redis did not answer: other processes may accept a changed API key or user for up to %d s",
                        MEMORY_SECONDS)


# Secrets stay out of the memory: an API call never reads them (merged without them, they load if ever read).
NOT_REMEMBERED = ("password_hash", "session_token")


def _detached_copy(user):
    """A copy of `user`'s columns, detached: merged into each call's session without a query (merge, load=False)."""
    copy = type(user)(**{attr.key: getattr(user, attr.key) for attr in inspect(type(user)).column_attrs
                         if attr.key not in NOT_REMEMBERED})
    make_transient_to_detached(copy)
    return copy


def current() -> KeyMemory | None:
    return current_app.extensions.get(EXTENSION)


def init_key_memory(app, *models) -> None:
    """Remember keys in this app's processes when Redis is configured; `models` (User, ApiKey): writing one of them
    makes every process forget."""
    if app.config.get("REDIS_URL"):
        app.extensions[EXTENSION] = KeyMemory(app.config["REDIS_URL"])
    for model in models:
        for name in ("after_insert", "after_update", "after_delete"):
            if not event.contains(model, name, _changed):
                event.listen(model, name, _changed)
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)


def _changed(mapper, connection, target) -> None:
    session = object_session(target)
    if session is not None:
        session.info[_CHANGED] = True


def _after_commit(session) -> None:
    memory = current() if session.info.pop(_CHANGED, False) and has_app_context() else None
    if memory is not None:
        memory.forget_everywhere()
