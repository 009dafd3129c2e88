"""`flask --app wsgi payouts execute BATCH_ID`: run an approved batch in the foreground, with a progress bar."""
import sys

import click
from flask.cli import AppGroup

from rewards.errors import DomainError
from rewards.extensions import db
from rewards.payouts import service
from rewards.payouts.executor import execute_batch

payouts_cli = AppGroup("payouts", help="Pay referrers.")


@payouts_cli.command("execute")
@click.argument("batch_id", type=int)
def execute(batch_id):
    """Send an approved batch's pending and failed items; a paid item is never sent again. Safe to run again."""
    try:
        batch = service.prepare_execution(batch_id)
        db.session.commit()
        left = service.progress(batch)["counts"].get("pending", 0)
        with click.progressbar(length=left, label=f"Batch {batch_id}", file=sys.stderr) as bar:
            result = execute_batch(batch_id, on_progress=bar.update)
    except DomainError as error:
        db.session.rollback()
        click.echo(f"Error: {error.message}", err=True)
        sys.exit(1)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result["counts"].items()))
    click.echo(f"Batch {batch_id} is {result['status']}: {counts}.")
    if result["status"] != "paid":
        click.echo("Some items are not paid: see the batch page to retry them or mark them paid.", err=True)
        sys.exit(1)
