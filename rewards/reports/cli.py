"""`flask --app wsgi reports …`: each export written to a file with a progress bar (the same rows as over HTTP)."""
import sys
from datetime import date

import click
from flask.cli import AppGroup

from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.payouts.cli import payouts_cli
from rewards.reports import exports, reconciliation, yearly
from rewards.reports.csvfile import Report

reports_cli = AppGroup("reports", help="Finance exports as CSV files.")

OUT = click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
                   help="CSV file to write.")
FORMATTED = click.option("--formatted", is_flag=True, help="Add formatted amount columns (currency units).")
FROM = click.option("--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First UTC day.")
TO = click.option("--to", "last", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last UTC day (included).")
YEAR = click.option("--year", required=True, type=click.IntRange(1970, 9999), help="Calendar year (UTC).")


def _days(first, last) -> tuple[date, date]:
    if first > last:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    return first.date(), last.date()


def write(report: Report, out: str, label: str) -> int:
    """Write the report with a progress bar on standard error; say how many rows went where."""
    with click.progressbar(length=report.count(), label=label, file=sys.stderr) as bar:
        rows = report.write_to(out, bar.update)
    click.echo(f"Wrote {rows} row(s) to {out}.")
    return rows


@reports_cli.command("journal")
@FROM
@TO
@OUT
@FORMATTED
def journal(first, last, out, formatted):
    """The accounting journal: every ledger leg posted in [--from, --to + 1 day) UTC."""
    first, last = _days(first, last)
    write(exports.journal(first, last, formatted), out, "Journal")


@reports_cli.command("payouts")
@FROM
@TO
@OUT
@FORMATTED
def payouts(first, last, out, formatted):
    """Settled payout items of [--from, --to + 1 day) UTC, and transfer reversals as negative rows."""
    first, last = _days(first, last)
    write(exports.payouts(first, last, formatted), out, "Payouts")


@reports_cli.command("referrers")
@YEAR
@OUT
@FORMATTED
def referrers(year, out, formatted):
    """Each referrer's rewards earned, reversed and paid per currency in the year."""
    write(exports.referrers(year, formatted), out, "Referrers")


@reports_cli.command("statement")
@click.option("--customer-id", required=True, type=int)
@YEAR
@OUT
@FORMATTED
def statement(customer_id, year, out, formatted):
    """One referrer's statement of the year: every reward and payout line."""
    if db.session.get(Customer, customer_id) is None:
        click.echo(f"Error: no customer {customer_id}.", err=True)
        sys.exit(1)
    write(exports.statement(customer_id, year, formatted), out, "Statement")


@reports_cli.command("tax-export")
@YEAR
@OUT
def tax_export(year, out):
    """Referrers at or over the reporting threshold with their tax ids in clear; recorded in the audit log."""
    report = yearly.tax_export(year)
    rows = write(report, out, "Tax export")
    yearly.record_tax_export(year, rows, via="cli")
    db.session.commit()


# `payouts reconcile` is a command of the payouts group (the contract's name); its rules live in reports.
@payouts_cli.command("reconcile")
@FROM
@TO
def reconcile(first, last):
    """Compare the period's settled payout items with the transfers Stripe lists; print each difference; exit 1
    if there is any."""
    first, last = _days(first, last)
    run = reconciliation.reconcile(first, last, via="cli")
    db.session.commit()
    if run.status == "error":
        click.echo(f"Error: {run.error_message}", err=True)
        sys.exit(1)
    for difference in run.differences:
        click.echo(f"{difference['kind']}: transfer {difference['transfer_id']}"
                   f"{' item ' + str(difference['item_id']) if difference['item_id'] else ''}: {difference['message']}")
    click.echo(f"{first} to {last}: {run.matched} matched, {len(run.differences)} difference(s).")
    if run.differences:
        sys.exit(1)
