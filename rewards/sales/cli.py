"""Command line: `flask --app wsgi sales import FILE`, `referrals expire`, `referrals revalidate`."""
import io
import os
import time

import click
from flask.cli import AppGroup

from rewards import jobs
from rewards.cli import fail
from rewards.errors import DomainError
from rewards.extensions import db
from rewards.sales.csv_import import import_sales
from rewards.referrals.review import expire_referrals
from rewards.sales.validation import pending_count, revalidate

sales_cli = AppGroup("sales", help="Sales: import.")
referrals_cli = AppGroup("referrals", help="Referrals: expiry and re-validation.")


def _echo_outcomes(counts: dict) -> None:
    shown = ", ".join(f"{name} {counts.get(name, 0)}" for name in ("qualified", "review", "rejected", "pending"))
    click.echo(f"Re-weighed: {shown}; rewards granted {counts.get('rewards', 0)}.")
    if "seconds_deciding" in counts:
        click.echo(f"Matching, checks and decisions {counts['seconds_deciding']:.1f}s; "
                   f"granting rewards {counts['seconds_rewarding']:.1f}s.")


@sales_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--no-revalidate", is_flag=True, help="Only store the sales; weigh them later with "
                                                   "`referrals revalidate`.")
def import_command(path, no_revalidate):
    """Import a CSV of sales (header external_id,email,amount,currency,occurred_at[,referral_code,phone])."""
    started = time.perf_counter()
    with open(path, "rb") as binary, click.progressbar(length=os.path.getsize(path), label="Importing") as bar:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
        position = {"done": 0, "rows": 0}

        def progress(_):
            position["rows"] += 1
            if position["rows"] % 2000 == 0:
                now = binary.tell()
                bar.update(now - position["done"])
                position["done"] = now

        try:
            report = import_sales(text, on_batch=db.session.commit, on_progress=progress, weigh=False)
        except DomainError as exc:
            fail(exc.message)
        bar.update(os.path.getsize(path) - position["done"])
    db.session.commit()
    stored = time.perf_counter() - started
    for error in report.errors:
        click.echo(f"line {error['line']}: {error['message']}", err=True)
    click.echo(f"Created {report.created}, duplicates {report.duplicates}, errors {report.error_count} "
               f"in {stored:.1f}s.")
    if report.created and not no_revalidate:
        _revalidate(report.first_sale_id)


def _revalidate(since_sale_id=None):
    started = time.perf_counter()
    with jobs.held() as held:
        with click.progressbar(length=pending_count(), label="Weighing referrals") as bar:
            counts = revalidate(since_sale_id, on_progress=bar.update)
        db.session.commit()
        _echo_outcomes(counts)
        click.echo(f"Weighed in {time.perf_counter() - started:.1f}s.")
        started = time.perf_counter()
    if held:  # no REDIS_URL: the jobs the grants started (notification mail) ran here, after the report
        click.echo(f"Background jobs run here without REDIS_URL (notification mail): {len(held)} "
                   f"in {time.perf_counter() - started:.1f}s.")


@referrals_cli.command("revalidate")
def revalidate_command():
    """Re-weigh every pending referral against the stored sales (after an import or a program change)."""
    _revalidate()


@referrals_cli.command("expire")
def expire_command():
    """Pending referrals past the attribution window become expired."""
    count = expire_referrals()
    db.session.commit()
    click.echo(f"Expired {count} referral{'s' if count != 1 else ''}.")


def register_sales_cli(app):
    app.cli.add_command(sales_cli)
    app.cli.add_command(referrals_cli)
