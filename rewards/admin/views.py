"""Staff pages: the coordinator's dashboard and finance's home."""
from datetime import date

from flask import Blueprint, flash, render_template, request

from rewards.accounts.auth import roles_required
from rewards.admin import stats
from rewards.bounds import parse_date
from rewards.errors import InvalidInput

bp = Blueprint("admin", __name__)


def date_arg(name: str) -> date | None:
    """A YYYY-MM-DD query argument; a malformed or out-of-range one is ignored with a flash saying so."""
    try:
        return parse_date(request.args.get(name), name)
    except InvalidInput as exc:
        flash(f"{exc.message} Ignored.", "warning")
        return None


@bp.route("/admin")
@roles_required("coordinator")
def dashboard():
    period = stats.period_from(request.args.get("days", type=int), date_arg("from"), date_arg("to"))
    if period.shortened:
        flash(f"A period is at most {stats.MAX_PERIOD_DAYS} days: showing the last {stats.MAX_PERIOD_DAYS} days "
              f"up to {period.last_day.isoformat()}.", "warning")
    return render_template("admin/dashboard.html", period=period, periods=stats.PERIODS, **stats.dashboard(period))


@bp.route("/finance")
@roles_required("finance")
def finance():
    from rewards.payouts.forms import DraftBatchForm
    from rewards.payouts.overview import finance_home

    return render_template("admin/finance.html", draft_form=DraftBatchForm(), **finance_home())
