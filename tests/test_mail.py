"""Mail delivery: the outbox folder of the embedded default, sending only after commit, a mail server that is down
(the change stays, the message is retried), and one message per event."""
import email
import email.policy
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import Retry

from rewards.customers.models import Customer
from rewards.extensions import db, mail as flask_mail
from rewards.mail import service as mail
from rewards.mail.models import OutgoingMessage
from rewards.mail.tasks import send_messages_task
from tests.conftest import Mailbox, _free_port, text_of


def queue_test_message(to="someone@example.com", **kwargs):
    return mail.queue("referral_link", to, "Your referral link", "referral_link",
                      {"name": "Rita", "referral_url": "https://refer.example/r/abc", "portal_url": "https://refer.example/portal"},
                      **kwargs)


def test_without_a_mail_server_each_message_is_an_eml_file_in_the_outbox_and_its_links_are_logged(app, caplog):
    caplog.set_level(logging.INFO)
    queue_test_message()
    db.session.commit()
    files = list(Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))
    assert len(files) == 1 and files[0].name.endswith("-referral_link.eml")
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "someone@example.com" and message["Subject"] == "Your referral link"
    assert "https://refer.example/r/abc" in text_of(message)
    assert message.get_body(preferencelist=("html",)) is not None
    assert "https://refer.example/r/abc" in caplog.text and str(files[0]) in caplog.text
    assert db.session.scalar(db.select(OutgoingMessage)).status == "sent"


def test_a_message_leaves_only_after_its_transaction_commits(app, smtp):
    queue_test_message("rolled@example.com")
    db.session.flush()
    assert smtp.messages == []
    db.session.rollback()
    assert smtp.messages == [] and db.session.scalar(db.select(OutgoingMessage)) is None
    queue_test_message("kept@example.com")
    assert smtp.messages == []
    db.session.commit()
    assert [m["To"] for m in smtp.messages] == ["kept@example.com"]


def test_one_message_per_event(app, smtp):
    assert queue_test_message(dedupe_key="event:1") is not None
    db.session.commit()
    assert queue_test_message(dedupe_key="event:1") is None
    db.session.commit()
    assert len(smtp.messages) == 1


def test_mail_server_down_keeps_the_change_and_the_message_is_retried(app, login_as, pages, runner):
    port = _free_port()  # nothing listens here yet
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    flask_mail.init_app(app)
    login_as("coordinator")
    response = pages.submit("/admin/customers/new", {"name": "Dora Down", "email": "dora@example.com", "invite": "y"})
    assert response.status_code == 302
    # The enrolment is committed although the invitation could not be sent.
    assert db.session.scalar(db.select(Customer).filter_by(email="dora@example.com")) is not None
    message = db.session.scalar(db.select(OutgoingMessage).filter_by(recipient="dora@example.com"))
    assert message.status == "pending" and message.attempts == 1 and "Connection refused" in message.last_error
    assert message.next_attempt_at > message.created_at

    # The server comes back; the sweep (Celery beat, or `flask mail send-pending`) sends what is due.
    box = Mailbox()
    box.controller.port = port
    box.start()
    try:
        message.next_attempt_at = message.created_at - timedelta(minutes=1)
        db.session.commit()
        result = runner.invoke(args=["mail", "send-pending"])
        assert result.exit_code == 0 and "1 sent, 0 failed" in result.output
        received = box.last_to("dora@example.com")
        assert received["Subject"] == "Your referral account: set your password"
        db.session.refresh(message)
        assert message.status == "sent" and message.attempts == 2
        # Sent once: another sweep or a late retry sends nothing more.
        assert runner.invoke(args=["mail", "send-pending"]).output.startswith("0 sent")
        assert send_messages_task.apply(args=[[message.id]]).result == 0
        assert len(box.messages) == 1
    finally:
        box.stop()


def test_the_celery_task_retries_a_failed_send_with_growing_delays(app):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port())  # nothing listens there
    flask_mail.init_app(app)
    message = OutgoingMessage(kind="test", recipient="retry@example.com", subject="s", text_body="t", html_body="h")
    db.session.add(message)
    db.session.commit()
    delays = []
    for retries in (0, 1, 4):
        with pytest.raises(Retry) as retry:
            send_messages_task.apply(args=[[message.id]], retries=retries)
        delays.append(retry.value.when)
    assert delays == [30, 60, 480]
    db.session.refresh(message)
    # Each failure recorded; the message stays pending for the retries and the sweep.
    assert message.attempts == 3 and message.status == "pending" and "Connection refused" in message.last_error


def test_customers_enrolled_through_the_api_are_invited_only_when_asked(api_as, smtp):
    api = api_as("coordinator")
    response = api.post("/api/v1/customers", json={"email": "api@example.com", "name": "Api"})
    assert response.status_code == 201
    assert response.json["referral_url"].endswith(f"/r/{response.json['referral_code']}")
    assert smtp.messages == []
    invited = api.post("/api/v1/customers", json={"email": "asked@example.com", "name": "Asked", "invite": True})
    assert invited.status_code == 201
    message = smtp.last_to("asked@example.com")
    assert "/account/claim/" in text_of(message) and f"/r/{invited.json['referral_code']}" in text_of(message)
