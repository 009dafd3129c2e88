"""Celery tasks of the accounts package."""
from rewards.accounts.onboarding import send_password_reset
from rewards.extensions import celery, db


@celery.task(name="rewards.accounts.password_reset_requested")
def password_reset_requested(email: str) -> None:
    """Someone asked for a reset link for `email`: send it if there is anyone to send it to."""
    send_password_reset(email)
    db.session.commit()
