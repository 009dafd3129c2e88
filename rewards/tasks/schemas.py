"""JSON shapes of tasks."""
import marshmallow as ma
from marshmallow import fields, validate

from rewards.bounds import MAX_ID
from rewards.schemas import Date, Id, InputSchema, QuerySchema, UTCDateTime, query_id
from rewards.tasks.models import PRIORITIES, TASK_STATUSES
from rewards.tasks.service import today


def _optional_id():
    return Id(allow_none=True)


class TaskQuerySchema(QuerySchema):
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))
    assignee_id = query_id()


class TaskUpdateSchema(InputSchema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=5000), allow_none=True)
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))
    assignee_id = _optional_id()
    due_date = Date(allow_none=True)
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    referral_id = _optional_id()
    customer_id = _optional_id()
    # Index within the column (0 = top); without it a card changing column goes to the bottom.
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_ID))


class TaskCreateSchema(TaskUpdateSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    status = fields.String(load_default="todo", validate=validate.OneOf(TASK_STATUSES))


class TaskSchema(ma.Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String(allow_none=True)
    status = fields.String()
    position = fields.Integer()
    assignee_id = fields.Integer(allow_none=True)
    due_date = fields.Date(allow_none=True)
    priority = fields.String()
    referral_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    created_by_id = fields.Integer(allow_none=True)
    created_at = UTCDateTime()
    updated_at = UTCDateTime()
    overdue = fields.Method("_overdue")

    def _overdue(self, task) -> bool:
        return task.is_overdue(today())
