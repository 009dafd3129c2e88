"""Tasks endpoints of /api/v1: the board for integrations and scripts (coordinators and admins only)."""
from flask.views import MethodView
from flask_login import current_user

from rewards.accounts.auth import roles_required
from rewards.api import Blueprint
from rewards.api.pagination import paginate
from rewards.extensions import db
from rewards.tasks import service
from rewards.tasks.schemas import TaskCreateSchema, TaskQuerySchema, TaskSchema, TaskUpdateSchema

blp = Blueprint("tasks_api", __name__, url_prefix="/api/v1/tasks", description="The office task board")


@blp.route("")
class Tasks(MethodView):
    @roles_required("coordinator")
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Tasks in board order: column, then position."""
        return paginate(service.tasks_query(args.get("status"), args.get("assignee_id")), pagination_parameters)

    @roles_required("coordinator")
    @blp.arguments(TaskCreateSchema)
    @blp.response(201, TaskSchema)
    def post(self, data):
        """Add a card (at the bottom of its column unless `position` is given)."""
        return service.commit_and_keep(service.create_task(data, current_user))


@blp.route("/<int:task_id>")
class TaskById(MethodView):
    @roles_required("coordinator")
    @blp.response(200, TaskSchema)
    def get(self, task_id):
        """One task."""
        return service.get_task(task_id)

    @roles_required("coordinator")
    @blp.arguments(TaskUpdateSchema)
    @blp.response(200, TaskSchema)
    def patch(self, data, task_id):
        """Change some fields; `status` and `position` move the card."""
        return service.commit_and_keep(service.update_task(service.get_task(task_id, for_change=True), data))

    @roles_required("coordinator")
    @blp.response(204)
    def delete(self, task_id):
        """Remove a card."""
        service.delete_task(service.get_task(task_id, for_change=True))
        db.session.commit()
