"""Command line of the contract: `flask --app wsgi users|api-keys|seed-demo …`."""
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from rewards.accounts import service as accounts
from rewards.accounts.models import ROLES
from rewards.errors import DomainError
from rewards.extensions import db

users_cli = AppGroup("users", help="Manage users.")
api_keys_cli = AppGroup("api-keys", help="Manage API keys.")


def fail(message: str):
    """A clear message on standard error and a non-zero exit status."""
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def read_new_password() -> str:
    """A hidden, confirmed prompt on a terminal; from a pipe: password, newline, password, newline."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    first, second = sys.stdin.readline().rstrip("\r\n"), sys.stdin.readline().rstrip("\r\n")
    if first != second:
        fail("the two passwords differ.")
    return first


def user_by_email_or_fail(email):
    user = accounts.find_user_by_email(email)
    if user is None:
        fail(f"no user with email {email}.")
    return user


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", default="")
def create_user(email, role, name):
    """Create a user; the password is read at a hidden prompt."""
    from rewards.customers.service import enroll_customer, find_customer_by_email

    password = read_new_password()
    try:
        user = accounts.create_user(email, password, role, name)
        if role == "customer":
            customer = find_customer_by_email(user.email)
            if customer is None:
                enroll_customer(user.email, name or user.email.split("@")[0], user=user)
            elif customer.user_id is None:
                customer.user = user
        db.session.commit()
    except DomainError as exc:
        fail(exc.message)
    click.echo(f"Created {role} {user.email} (id {user.id}).")


@users_cli.command("disable")
@click.option("--email", required=True)
def disable_user(email):
    """Disable a user: every session and API key of theirs stops working."""
    accounts.set_disabled(user_by_email_or_fail(email), True)
    db.session.commit()
    click.echo(f"Disabled {email}.")


@api_keys_cli.command("create")
@click.option("--email", required=True)
@click.option("--label", default="")
def create_api_key(email, label):
    """Create an API key for a user; the key is printed once, alone on the last line."""
    user = user_by_email_or_fail(email)
    if user.is_disabled:
        fail(f"{email} is disabled.")
    key, secret = accounts.create_api_key(user, label)
    db.session.commit()
    click.echo(f"API key {key.id} ({key.prefix}…) for {user.email}, role {user.role}. It is shown only now:")
    click.echo(secret)


@api_keys_cli.command("revoke")
@click.argument("key_id", type=int)
def revoke_api_key(key_id):
    """Revoke an API key by its id."""
    from rewards.accounts.models import ApiKey

    key = db.session.get(ApiKey, key_id)
    if key is None:
        fail(f"no API key with id {key_id}.")
    accounts.revoke_api_key(key)
    db.session.commit()
    click.echo(f"Revoked API key {key_id}.")


@click.command("seed-demo")
def seed_demo():
    """Demo data for a first look; safe to run twice."""
    from rewards.demo import seed

    for line in seed():
        click.echo(line)


def register_cli(app: Flask):
    app.cli.add_command(users_cli)
    app.cli.add_command(api_keys_cli)
    app.cli.add_command(seed_demo)
