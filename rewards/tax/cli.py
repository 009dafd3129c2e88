"""`flask --app wsgi keys rotate`: re-encrypt stored secrets under the first of DATA_ENCRYPTION_KEYS."""
import sys

import click
from flask.cli import AppGroup

from rewards import encryption
from rewards.tax import service

keys_cli = AppGroup("keys", help="Encryption keys of secrets at rest.")


@keys_cli.command("rotate")
def rotate():
    """Re-encrypt every stored tax id under the first key; then older keys may be removed. Safe to run again."""
    if not encryption.is_configured():
        click.echo("Error: DATA_ENCRYPTION_KEYS is not set; there is no key to rotate to.", err=True)
        sys.exit(1)
    with click.progressbar(length=service.stored_count(), label="Re-encrypting tax ids", file=sys.stderr) as bar:
        rotated, unreadable = service.rotate_all(bar.update)
    click.echo(f"Re-encrypted {rotated} tax id(s) under the first key.")
    if unreadable:
        click.echo(f"Error: {unreadable} tax id(s) could not be decrypted by any configured key; "
                   "put the key they were written with back into DATA_ENCRYPTION_KEYS and run again.", err=True)
        sys.exit(1)
