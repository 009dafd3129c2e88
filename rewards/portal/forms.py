"""Forms of the customer portal and the referee's landing page."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField, SubmitField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class ReferralForm(FlaskForm):
    referee_name = StringField("Their name", validators=[DataRequired(), Length(max=200)])
    referee_email = EmailField("Their email", validators=[DataRequired(), Length(max=254)])
    referee_phone = TelField("Their phone (optional)", validators=[Optional(), Length(max=40)])
    note = TextAreaField("Note for us (optional)", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Refer")


class LandingForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Your email", validators=[DataRequired(), Length(max=254)])
    phone = TelField("Your phone (optional)", validators=[Optional(), Length(max=40)])
    submit = SubmitField("Send my details")


def preferences_form(kinds: dict[str, str], current: dict[str, bool]) -> FlaskForm:
    """A checkbox per notification kind, ticked as the customer chose."""

    class PreferencesForm(FlaskForm):
        pass

    for kind, label in kinds.items():
        setattr(PreferencesForm, kind, BooleanField(label, default=current[kind]))
    PreferencesForm.submit = SubmitField("Save")
    return PreferencesForm()
