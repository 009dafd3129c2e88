"""Login, sign-up and password forms."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from rewards.accounts.service import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

PASSWORD_RULE = f"Password must be at least {PASSWORD_MIN_LENGTH} and at most {PASSWORD_MAX_LENGTH} characters."


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX_LENGTH)])
    submit = SubmitField("Log in")


class SignupForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH, message=PASSWORD_RULE)],
        description=f"At least {PASSWORD_MIN_LENGTH} characters.")
    submit = SubmitField("Join the referral program")


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH, message=PASSWORD_RULE)])
    confirm = PasswordField("Repeat the new password", validators=[EqualTo("new_password", "Passwords differ.")])
    submit = SubmitField("Change password")


class LogoutForm(FlaskForm):
    submit = SubmitField("Log out")
