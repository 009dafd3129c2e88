"""Reports endpoints of /api/v1: CSV files streamed from the ledger (finance and admin)."""
from flask.views import MethodView

from rewards.accounts.auth import roles_required
from rewards.api import Blueprint
from rewards.reports import exports
from rewards.reports.csvfile import csv_response
from rewards.reports.schemas import PeriodQuery, YearQuery

blp = Blueprint("reports_api", __name__, url_prefix="/api/v1/reports",
                description="Finance exports as CSV, streamed; amounts in minor units")
CSV = {"content": {"text/csv": {"schema": {"type": "string"}}}}


@blp.route("/journal.csv")
class JournalCsv(MethodView):
    @roles_required("finance")
    @blp.arguments(PeriodQuery, location="query")
    @blp.doc(responses={200: {"description": "One row per ledger leg posted in [from, to + 1 day) UTC", **CSV}})
    def get(self, args):
        """The accounting journal: every ledger leg of the period with debit and credit columns."""
        report = exports.journal(args["first"], args["last"], args["formatted"])
        return csv_response(report, f"journal-{args['first']}-{args['last']}.csv")


@blp.route("/referrers.csv")
class ReferrersCsv(MethodView):
    @roles_required("finance")
    @blp.arguments(YearQuery, location="query")
    @blp.doc(responses={200: {"description": "Yearly totals per referrer and currency", **CSV}})
    def get(self, args):
        """Each referrer's rewards earned, reversed and paid per currency in a calendar year (UTC)."""
        return csv_response(exports.referrers(args["year"], args["formatted"]), f"referrers-{args['year']}.csv")


@blp.route("/payouts.csv")
class PayoutsCsv(MethodView):
    @roles_required("finance")
    @blp.arguments(PeriodQuery, location="query")
    @blp.doc(responses={200: {"description": "Settled payout items of [from, to + 1 day) UTC; each transfer "
                                             "reversal a row of its own with a negative amount", **CSV}})
    def get(self, args):
        """Payouts by period: settled items (manual ones with an empty stripe_transfer_id) and reversals."""
        report = exports.payouts(args["first"], args["last"], args["formatted"])
        return csv_response(report, f"payouts-{args['first']}-{args['last']}.csv")
