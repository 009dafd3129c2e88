"""Login, sign-up, password and reset forms."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from rewards.accounts.service import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

PASSWORD_RULE = f"Password must be at least {PASSWORD_MIN_LENGTH} and at most {PASSWORD_MAX_LENGTH} characters."
PASSWORD_HINT = f"At least {PASSWORD_MIN_LENGTH} characters; a phrase of unrelated words is easy to remember and hard to guess."


def new_password_field(label="Password"):
    return PasswordField(label, validators=[DataRequired(), Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH,
                                                                   message=PASSWORD_RULE)],
                         description=PASSWORD_HINT)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX_LENGTH)])
    submit = SubmitField("Log in")


class SignupForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = new_password_field()
    submit = SubmitField("Join the referral program")


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = new_password_field("New password")
    confirm = PasswordField("Repeat the new password", validators=[EqualTo("new_password", "Passwords differ.")])
    submit = SubmitField("Change password")


class ConfirmSignupForm(FlaskForm):
    password = PasswordField("The password you chose at sign-up",
                             validators=[DataRequired(), Length(max=PASSWORD_MAX_LENGTH)])
    submit = SubmitField("Confirm and open my portal")


class SetPasswordForm(FlaskForm):
    password = new_password_field("New password")
    confirm = PasswordField("Repeat the new password", validators=[EqualTo("password", "Passwords differ.")])
    submit = SubmitField("Set password")


class ResetRequestForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    submit = SubmitField("Send me a link")


class LogoutForm(FlaskForm):
    submit = SubmitField("Log out")
