"""Task rules: creating, editing, moving between columns and deleting cards, each with an audit event."""
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import selectinload

from rewards import audit
from rewards.accounts.models import STAFF_ROLES, User
from rewards.clock import utcnow
from rewards.customers.models import Customer
from rewards.errors import InvalidInput, NotFound
from rewards.extensions import db
from rewards.referrals.models import Referral
from rewards.tasks.models import PRIORITIES, TASK_STATUSES, Task

EDITABLE = ("title", "description", "assignee_id", "due_date", "priority", "referral_id", "customer_id")


def commit_and_keep(task: Task) -> Task:
    """Commit, keeping the task as written for the answer: once the board's lock is released another request may
    delete it, and reading it back then would fail."""
    db.session.flush()
    db.session.expunge(task)
    db.session.commit()
    return task


def today() -> date:
    """The board's "today" (UTC), for due dates and overdue marks."""
    return utcnow().date()


# Key of the advisory lock that makes changes to the board take turns (PostgreSQL).
BOARD_LOCK = 0x7461736B


def lock_board() -> None:
    """Changes to the board one at a time, until this transaction ends (PostgreSQL): placing a card renumbers its
    column, so a concurrent move or delete would otherwise write over rows that changed or vanished meanwhile."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": BOARD_LOCK})


def get_task(task_id: int, for_change: bool = False) -> Task:
    """The task (404 if none); `for_change` first takes the board's lock, so what is read is what gets changed."""
    if for_change:
        lock_board()
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound("No such task.")
    return task


def tasks_query(status: str | None = None, assignee_id: int | None = None):
    """Tasks in board order (column, then position), optionally of one column or one assignee."""
    query = db.select(Task).order_by(Task.status, Task.position, Task.id)
    if status:
        query = query.where(Task.status == status)
    if assignee_id:
        query = query.where(Task.assignee_id == assignee_id)
    return query


def board(assignee_id: int | None = None) -> dict[str, list[Task]]:
    """The three columns, each in position order."""
    columns = {status: [] for status in TASK_STATUSES}
    query = tasks_query(assignee_id=assignee_id).options(
        selectinload(Task.assignee), selectinload(Task.referral), selectinload(Task.customer))
    for task in db.session.scalars(query):
        columns[task.status].append(task)
    return columns


def staff_users() -> list[User]:
    """Who can be given a task: staff who can log in."""
    return db.session.scalars(db.select(User).where(User.role.in_(STAFF_ROLES), User.is_disabled.is_(False))
                              .order_by(User.name, User.email)).all()


def _validate(fields: dict) -> dict:
    """Check the editable fields present in `fields`; returns them cleaned."""
    clean = {}
    for name in EDITABLE:
        if name in fields:
            clean[name] = fields[name]
    if "title" in clean:
        clean["title"] = (clean["title"] or "").strip()
        if not clean["title"]:
            raise InvalidInput("A task needs a title.", "title")
        if len(clean["title"]) > 200:
            raise InvalidInput("The title is longer than 200 characters.", "title")
    if "description" in clean:
        clean["description"] = (clean["description"] or "").strip() or None
    if clean.get("priority") is not None and clean["priority"] not in PRIORITIES:
        raise InvalidInput(f"Priority must be one of: {', '.join(PRIORITIES)}.", "priority")
    if "priority" in clean and clean["priority"] is None:
        clean["priority"] = "normal"
    if clean.get("assignee_id") is not None:
        user = db.session.get(User, clean["assignee_id"])
        if user is None or user.role not in STAFF_ROLES or user.is_disabled:
            raise InvalidInput("The assignee must be a staff user.", "assignee_id")
    if clean.get("referral_id") is not None and db.session.get(Referral, clean["referral_id"]) is None:
        raise InvalidInput("No such referral.", "referral_id")
    if clean.get("customer_id") is not None and db.session.get(Customer, clean["customer_id"]) is None:
        raise InvalidInput("No such customer.", "customer_id")
    return clean


def _check_status(status: str) -> str:
    if status not in TASK_STATUSES:
        raise InvalidInput(f"Status must be one of: {', '.join(TASK_STATUSES)}.", "status")
    return status


def create_task(fields: dict, creator: User | None = None, *, auto_key: str | None = None) -> Task:
    """Add a card (not committed): at the end of its column, or at `position` when given."""
    lock_board()
    clean = _validate({"title": fields.get("title"), **fields})
    status = _check_status(fields.get("status") or "todo")
    task = Task(**clean, status=status, created_by_id=creator.id if creator else None, auto_key=auto_key)
    task.priority = task.priority or "normal"
    db.session.add(task)
    _place(task, status, fields.get("position"))
    db.session.flush()
    audit.record("task.created", task, {"title": task.title, "status": status, "auto_key": auto_key})
    return task


def update_task(task: Task, fields: dict) -> Task:
    """Change the given fields of a card (not committed); a new status or position moves it."""
    clean = _validate(fields)
    changed = {name: value for name, value in clean.items() if getattr(task, name) != value}
    for name, value in changed.items():
        setattr(task, name, value)
    if fields.get("status") is not None or fields.get("position") is not None:
        move_task(task, fields.get("status") or task.status, position=fields.get("position"))
    if changed:
        audit.record("task.updated", task, {name: _plain(value) for name, value in changed.items()})
    return task


def move_task(task: Task, status: str, *, position: int | None = None, after_id: int | None = None) -> Task:
    """Put a card in column `status`: after card `after_id`, at index `position`, or at the end (not committed)."""
    _check_status(status)
    old = (task.status, task.position)
    if after_id is not None:
        after = db.session.get(Task, after_id)
        if after is None or after.status != status or after.id == task.id:
            raise InvalidInput("The card to place this one after is not in that column.", "after_id")
        position = _column(status, exclude=task).index(after) + 1
    elif position is None and status == task.status:
        return task  # already in that column; nothing asked of its place
    _place(task, status, position)
    if (task.status, task.position) != old:
        audit.record("task.moved", task, {"from": old[0], "to": task.status, "position": task.position})
    return task


def delete_task(task: Task) -> None:
    audit.record("task.deleted", task, {"title": task.title, "status": task.status})
    db.session.delete(task)


def _column(status: str, exclude: Task) -> list[Task]:
    query = db.select(Task).where(Task.status == status).order_by(Task.position, Task.id)
    if exclude.id is not None:
        query = query.where(Task.id != exclude.id)
    with db.session.no_autoflush:
        return list(db.session.scalars(query))


def _place(task: Task, status: str, position: int | None) -> None:
    """Insert `task` into its column at `position` (end if None) and number the column 0, 1, 2, …"""
    column = _column(status, exclude=task)
    index = len(column) if position is None else max(0, min(int(position), len(column)))
    column.insert(index, task)
    task.status = status
    for number, card in enumerate(column):
        if card.position != number:
            card.position = number


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value
