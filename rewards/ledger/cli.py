"""`flask --app wsgi ledger check`: verify the ledger; non-zero exit naming what is broken."""
import sys

import click
from flask.cli import AppGroup

from rewards.ledger.check import check_ledger
from rewards.ops.checks import migrations

ledger_cli = AppGroup("ledger", help="Inspect the double-entry ledger.")


@ledger_cli.command("check")
def check():
    """Verify every ledger invariant; exit 1 and name each broken transaction, reward or account."""
    schema_ready, words = migrations()
    if not schema_ready:  # a database not upgraded (a fresh clone, a restored backup) has no ledger to read
        click.echo(f"Cannot check the ledger: {words}.", err=True)
        sys.exit(2)
    problems = check_ledger()
    for problem in problems:
        click.echo(f"BROKEN: {problem}", err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found.", err=True)
        sys.exit(1)
    click.echo("Ledger OK: every transaction balances and every reward agrees with its entries.")
