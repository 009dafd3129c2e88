"""The portal form where a customer enters her tax details."""
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class TaxDetailsForm(FlaskForm):
    legal_name = StringField("Legal name", validators=[DataRequired(), Length(max=200)])
    country = StringField("Country (two-letter code, e.g. US)", validators=[DataRequired(), Length(min=2, max=2, message="Two letters, e.g. US.")])
    # A password field: the browser never echoes it back, and the page never pre-fills it.
    tax_id = PasswordField("Tax id (leave empty to keep the one stored)", validators=[Length(max=40)])
