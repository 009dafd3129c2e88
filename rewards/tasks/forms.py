"""Forms of the task board pages."""
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from rewards.forms import id_range, sane_date
from rewards.tasks.models import PRIORITIES, STATUS_LABELS


def _choices(pairs):
    return [SelectChoice(value, label) for value, label in pairs]


def _id_or_none(value):
    return int(value) if value not in (None, "", "None") else None


class TaskForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description (optional)", validators=[Optional(), Length(max=5000)])
    status = SelectField("Column", choices=_choices(STATUS_LABELS.items()), default="todo")
    assignee_id = SelectField("Assignee", coerce=_id_or_none, validate_choice=True)
    due_date = DateField("Due date (optional)", validators=[Optional(), sane_date])
    priority = SelectField("Priority", choices=_choices((p, p.title()) for p in PRIORITIES), default="normal")
    referral_id = IntegerField("Referral number (optional)", validators=[Optional(), id_range()])
    customer_id = IntegerField("Customer number (optional)", validators=[Optional(), id_range()])
    submit = SubmitField("Save task")

    def set_assignees(self, users):
        self.assignee_id.choices = _choices([(None, "Nobody yet")] + [(u.id, u.name or u.email) for u in users])

    def fields_for_service(self) -> dict:
        return {name: getattr(self, name).data for name in
                ("title", "description", "assignee_id", "due_date", "priority", "referral_id", "customer_id")}


class MoveForm(FlaskForm):
    """The no-JavaScript way to move a card: pick a column."""

    status = SelectField("Move to", choices=_choices(STATUS_LABELS.items()))
    submit = SubmitField("Move")
