"""Finance's report pages and downloads, and a referrer's yearly statement (staff: anyone's; customer: her own)."""
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from rewards.accounts.auth import roles_required
from rewards.bounds import page_arg
from rewards.clock import utcnow
from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.reports import exports, reconciliation, statements, yearly
from rewards.reports.csvfile import csv_response
from rewards.reports.models import ReconciliationRun
from rewards.reports.schemas import PeriodQuery, YearQuery, load

bp = Blueprint("reports", __name__)


@bp.app_template_global("finance_reports")
def finance_reports_global() -> dict:
    """The reports section of /finance gathers its own figures, whichever view renders the page."""
    from rewards.reports.overview import finance_reports

    return finance_reports()


def _year() -> dict:
    return load(YearQuery(), {"year": utcnow().year, **request.args.to_dict()})


@bp.route("/finance/reports/journal.csv")
@roles_required("finance")
def journal_csv():
    args = load(PeriodQuery(), request.args)
    return csv_response(exports.journal(args["first"], args["last"], args["formatted"]),
                        f"journal-{args['first']}-{args['last']}.csv")


@bp.route("/finance/reports/payouts.csv")
@roles_required("finance")
def payouts_csv():
    args = load(PeriodQuery(), request.args)
    return csv_response(exports.payouts(args["first"], args["last"], args["formatted"]),
                        f"payouts-{args['first']}-{args['last']}.csv")


@bp.route("/finance/reports/referrers.csv")
@roles_required("finance")
def referrers_csv():
    args = _year()
    return csv_response(exports.referrers(args["year"], args["formatted"]), f"referrers-{args['year']}.csv")


@bp.route("/finance/reports/tax")
@roles_required("finance")
def tax():
    """Referrers whose payments of the year reach the reporting threshold, with what tax details are missing."""
    year = _year()["year"]
    page = page_arg()
    rows, total = yearly.over_threshold_page(year, page)
    return render_template("reports/tax.html", year=year, rows=rows, total=total, page=page, per_page=50)


@bp.post("/finance/reports/tax-export")
@roles_required("finance")
def tax_export():
    """The tax ids in clear: only by an explicit form post, recorded in the audit log before the file is sent."""
    year = load(YearQuery(), request.form)["year"]
    yearly.record_tax_export(year)
    db.session.commit()
    return csv_response(yearly.tax_export(year), f"tax-export-{year}.csv")


@bp.route("/finance/referrers/<int:customer_id>/statement")
@roles_required("finance")
def staff_statement(customer_id):
    customer = db.get_or_404(Customer, customer_id)
    year = _year()["year"]
    return render_template("reports/statement.html", customer=customer, year=year,
                           statement=statements.statement(customer.id, year), staff=True)


@bp.route("/finance/referrers/<int:customer_id>/statement.csv")
@roles_required("finance")
def staff_statement_csv(customer_id):
    customer = db.get_or_404(Customer, customer_id)
    args = _year()
    return csv_response(exports.statement(customer.id, args["year"], args["formatted"]),
                        f"statement-{customer.id}-{args['year']}.csv")


def _own_customer() -> Customer:
    if current_user.customer is None:
        abort(404)
    return current_user.customer


@bp.route("/portal/statement")
@roles_required("customer")
def my_statement():
    customer = _own_customer()
    year = _year()["year"]
    return render_template("reports/statement.html", customer=customer, year=year,
                           statement=statements.statement(customer.id, year), staff=False)


@bp.route("/portal/statement.csv")
@roles_required("customer")
def my_statement_csv():
    customer = _own_customer()
    args = _year()
    return csv_response(exports.statement(customer.id, args["year"], args["formatted"]),
                        f"statement-{args['year']}.csv")


@bp.route("/finance/reconciliation")
@roles_required("finance")
def reconciliations():
    today = utcnow().date()
    return render_template("reports/reconciliations.html", runs=reconciliation.recent_runs(),
                           first=today.replace(day=1), last=today)


@bp.post("/finance/reconciliation")
@roles_required("finance")
def reconcile():
    args = load(PeriodQuery(), request.form)
    run = reconciliation.reconcile(args["first"], args["last"], current_user)
    db.session.commit()
    return redirect(url_for("reports.reconciliation_run", run_id=run.id))


@bp.route("/finance/reconciliation/<int:run_id>")
@roles_required("finance")
def reconciliation_run(run_id):
    run = db.get_or_404(ReconciliationRun, run_id)
    return render_template("reports/reconciliation.html", run=run, kinds=reconciliation.KINDS)
