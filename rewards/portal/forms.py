"""Forms of the customer portal and the referee's landing page."""
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, SubmitField, TelField, TextAreaField
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
