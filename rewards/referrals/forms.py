"""Staff form to record a referral on a customer's behalf."""
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, SubmitField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class StaffReferralForm(FlaskForm):
    referrer = StringField("Referrer (email or referral code)", validators=[DataRequired(), Length(max=254)])
    referee_name = StringField("Referee's name", validators=[DataRequired(), Length(max=200)])
    referee_email = EmailField("Referee's email", validators=[DataRequired(), Length(max=254)])
    referee_phone = TelField("Referee's phone (optional)", validators=[Optional(), Length(max=40)])
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Record referral")
