"""Forms of the staff pages."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField, SubmitField, TelField
from wtforms.validators import DataRequired, Length, Optional


class EnrolForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    phone = TelField("Phone (optional)", validators=[Optional(), Length(max=40)])
    invite = BooleanField("Email an invitation to set a portal password", default=True)
    submit = SubmitField("Enrol customer")
