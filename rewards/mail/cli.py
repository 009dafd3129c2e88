"""`flask mail send-pending`: send the mail that is waiting (the sweep that Celery beat runs every two minutes)."""
import click
from flask.cli import AppGroup

from rewards.mail.service import send_pending

mail_cli = AppGroup("mail", help="Outgoing mail.")


@mail_cli.command("send-pending")
def send_pending_command():
    """Send every pending message whose next attempt is due; exits 1 if any failed again."""
    sent, failed = send_pending(limit=100_000)
    click.echo(f"{sent} sent, {failed} failed (kept for a later retry).")
    if failed:
        raise SystemExit(1)
