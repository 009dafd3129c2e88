"""Staff pages: the coordinator's dashboard and finance's home."""
from datetime import date

from flask import Blueprint, flash, render_template, request

from rewards.accounts.auth import roles_required
from rewards.admin import stats

bp = Blueprint("admin", __name__)


def date_arg(name: str) -> date | None:
    """A YYYY-MM-DD query argument; a malformed one is ignored with a flash saying so."""
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        flash(f"“{value}” is not a date (YYYY-MM-DD): ignored.", "warning")
        return None


@bp.route("/admin")
@roles_required("coordinator")
def dashboard():
    period = stats.period_from(request.args.get("days", type=int), date_arg("from"), date_arg("to"))
    return render_template("admin/dashboard.html", period=period, periods=stats.PERIODS, **stats.dashboard(period))


@bp.route("/finance")
@roles_required("finance")
def finance():
    from rewards.payouts.forms import DraftBatchForm
    from rewards.payouts.overview import finance_home

    return render_template("admin/finance.html", draft_form=DraftBatchForm(), **finance_home())
