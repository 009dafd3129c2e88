"""Staff pages: the coordinator's dashboard and finance's home."""
from flask import Blueprint, render_template
from sqlalchemy import func

from rewards.accounts.auth import roles_required
from rewards.extensions import db
from rewards.referrals.models import STATUSES, Referral

bp = Blueprint("admin", __name__)


@bp.route("/admin")
@roles_required("coordinator")
def dashboard():
    counts = dict(db.session.execute(db.select(Referral.status, func.count()).group_by(Referral.status)).all())
    return render_template("admin/dashboard.html", counts={s: counts.get(s, 0) for s in STATUSES})


@bp.route("/finance")
@roles_required("finance")
def finance():
    return render_template("admin/finance.html")
