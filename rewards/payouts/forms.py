"""Forms of the payout pages: draft a batch, mark an item paid, attach an account, and buttons (CSRF only)."""
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, Regexp


class DraftBatchForm(FlaskForm):
    currency = StringField("Currency (ISO code)", default="usd",
                           validators=[DataRequired(), Regexp(r"^[A-Za-z]{3}$", message="Three letters, e.g. usd.")])
    minimum = StringField("Minimum per referrer, in currency units (empty: the default)",
                          validators=[Optional(), Length(max=20)])
    submit = SubmitField("Draft a batch")


class MarkPaidForm(FlaskForm):
    reference = StringField("Reference of the payment (bank transfer, cheque)",
                            validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Mark paid")


class AttachAccountForm(FlaskForm):
    stripe_account_id = StringField("Stripe connected account id (acct_…)",
                                    validators=[DataRequired(), Regexp(r"^acct_[A-Za-z0-9]{1,60}$",
                                                                       message="It looks like acct_…")])
    submit = SubmitField("Attach")


class ButtonForm(FlaskForm):
    """A button that changes something: only the CSRF token travels."""
