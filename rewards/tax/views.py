"""The portal page where a customer enters her tax details; the tax id is shown masked, never echoed back."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from rewards.accounts.auth import roles_required
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.forms import show_error
from rewards.tax import service
from rewards.tax.forms import TaxDetailsForm

bp = Blueprint("tax", __name__)


@bp.route("/portal/tax-details", methods=["GET", "POST"])
@roles_required("customer")
def tax_details():
    customer = current_user.customer
    if customer is None:
        abort(404)
    details = service.details_of(customer.id)
    form = TaxDetailsForm(obj=None if details is None else details)
    enabled = service.enabled()
    if enabled and form.validate_on_submit():
        try:
            service.save(customer, form.legal_name.data, form.country.data, form.tax_id.data, current_user)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            show_error(form, exc, "legal_name")
        else:
            flash("Your tax details are saved.", "success")
            return redirect(url_for("tax.tax_details"))
    status = 409 if form.is_submitted() and not enabled else 422 if form.errors else 200
    return render_template("tax/details.html", form=form, enabled=enabled, masked=service.masked_tax_id(details),
                           missing=service.missing(details)), status
