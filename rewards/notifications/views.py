"""The unsubscribe link of notification mail: a signed link, usable without logging in (one-click, RFC 8058)."""
from flask import Blueprint, render_template

from rewards.extensions import csrf, db
from rewards.notifications import service

bp = Blueprint("notifications", __name__)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # mail programs post here themselves (List-Unsubscribe-Post); the signed link is the credential
def unsubscribe(token):
    found = service.read_unsubscribe_token(token)
    if found is None:
        return render_template("accounts/link_invalid.html", message="This unsubscribe link is not valid."), 404
    customer, kind = found
    service.unsubscribe(customer, kind)
    db.session.commit()
    return render_template("portal/unsubscribed.html", label=service.CUSTOMER_KINDS[kind])
