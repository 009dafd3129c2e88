"""The executor against the fake Stripe server: every fault ends in a recorded state with nothing paid twice; two
executors at once and an executor killed at random points still make exactly one transfer per item."""
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.ledger.check import check_ledger
from rewards.payouts import service
from rewards.payouts.executor import execute_batch
from rewards.payouts.models import PayoutBatch, PayoutItem
from tests.conftest import ROOT
from tests.payouts_support import (app_config, approved_batch, fake_stripe, many_referrers_owed,  # noqa: F401
                                   users_of_finance)


@pytest.fixture(autouse=True)
def _in_app(app):
    """Every test here works inside the app (the executor runs in the test's own process)."""
    return app


def items_of(batch) -> list[PayoutItem]:
    db.session.expire_all()
    return db.session.scalars(db.select(PayoutItem).filter_by(batch_id=batch.id).order_by(PayoutItem.id)).all()


def assert_one_transfer_per_paid_item(fake, batch):
    for item in items_of(batch):
        made = fake.transfers_made(item.transfer_group)
        assert len(made) == (1 if item.status == "paid" and item.method == "stripe" else 0), (item.id, item.status)
        if made:
            assert item.stripe_transfer_id == made[0]["id"] and made[0]["amount"] == item.amount
    assert check_ledger() == []


@pytest.mark.parametrize("fault, generation", [
    ("500", 2),                  # Stripe kept the 500 under g1: nothing in the group, so g2 is sent
    ("500_after_transfer", 1),   # the 500 came after the transfer was made: the group shows it, paid by g1
    ("429", 1),                  # not kept: the same key again after Retry-After
    ("timeout", 1),              # no answer in time; the transfer is made meanwhile: the same key finds it
    ("drop_after_transfer", 1),  # the connection dropped after the transfer was made: the same key finds it
])
def test_a_passing_fault_ends_paid_with_exactly_one_transfer(fake_stripe, fault, generation):
    batch = approved_batch(fake_stripe, referrers=2)
    fake_stripe.fault(fault, times=1)
    result = execute_batch(batch.id)
    assert result["status"] == "paid"
    items = items_of(batch)
    assert sorted(i.attempt_generation for i in items) == sorted([generation, 1])
    assert_one_transfer_per_paid_item(fake_stripe, batch)


def test_insufficient_balance_is_failed_visibly_and_a_retry_uses_the_next_generation(api_as, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=1)
    fake_stripe.balance["usd"] = 0
    assert execute_batch(batch.id)["status"] == "partially_failed"
    [item] = items_of(batch)
    assert (item.status, item.failure_code, item.attempt_state) == ("failed", "balance_insufficient", "error")
    assert "insufficient funds" in item.failure_message
    # Stripe kept the error under g1: sending g1 again would only repeat it.
    assert fake_stripe.idempotency[(f"Bearer {fake_stripe_key()}", f"payout-item-{item.id}-g1")]["status"] == 400
    fake_stripe.balance["usd"] = 10**9
    assert api_as("finance").post(f"/api/v1/payout-batches/{batch.id}/execute").status_code == 202
    [item] = items_of(batch)
    assert (item.status, item.attempt_generation) == ("paid", 2)
    assert db.session.get(PayoutBatch, batch.id).status == "paid"
    assert_one_transfer_per_paid_item(fake_stripe, batch)


def fake_stripe_key():
    from tests.payouts_support import SECRET_KEY
    return SECRET_KEY


@pytest.mark.parametrize("change, code", [("not_ready", "insufficient_capabilities_for_transfer"),
                                          ("deleted", "resource_missing")])
def test_an_account_that_cannot_receive_fails_with_stripes_code(fake_stripe, change, code):
    batch = approved_batch(fake_stripe, referrers=2)
    destination = items_of(batch)[0].destination
    if change == "deleted":
        fake_stripe.delete_account(destination)
    else:
        fake_stripe.set_ready(destination, False)
    assert execute_batch(batch.id)["status"] == "partially_failed"
    first, second = items_of(batch)
    assert (first.status, first.failure_code) == ("failed", code) and first.failure_message
    assert second.status == "paid"
    assert_one_transfer_per_paid_item(fake_stripe, batch)


def test_stripe_failing_every_time_leaves_the_item_failed_after_its_attempts(fake_stripe):
    batch = approved_batch(fake_stripe, referrers=1)
    fake_stripe.fault("500", times=100)
    assert execute_batch(batch.id)["status"] == "partially_failed"
    [item] = items_of(batch)
    assert (item.status, item.failure_code) == ("failed", "api_error")
    assert item.attempt_generation > 1  # each kept 500 was looked up, then a new key tried
    assert fake_stripe.transfers_made() == []
    assert check_ledger() == []


def test_more_than_one_transfer_in_the_group_goes_to_review_for_a_person(api_as, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=1)
    [item] = items_of(batch)
    for _ in range(2):  # someone sent transfers under this group by hand
        fake_stripe.create_transfer({"amount": str(item.amount), "currency": "usd", "destination": item.destination,
                                     "transfer_group": item.transfer_group})
    fake_stripe.fault("500", times=1)
    assert execute_batch(batch.id)["status"] == "partially_failed"
    [item] = items_of(batch)
    assert (item.status, item.failure_code) == ("review", "several_transfers")
    assert len(fake_stripe.transfers_made(item.transfer_group)) == 2
    r = api_as("finance").post(f"/api/v1/payout-batches/{batch.id}/items/{item.id}/mark-paid",
                               json={"reference": "kept tr_1, reversed tr_2"})
    assert r.status_code == 200 and r.json["status"] == "paid"
    assert check_ledger() == []


def test_rate_limit_is_honoured_and_several_transfers_are_in_flight(app, fake_stripe):
    app.config.update(STRIPE_MAX_REQUESTS_PER_SECOND=40, PAYOUT_CONCURRENCY=4)
    app.extensions.pop("payouts_stripe", None)
    fake_stripe.latency = 0.05
    fake_stripe.rate_limit = 45
    batch = approved_batch(fake_stripe, referrers=30)
    in_flight, peak, lock = [0], [0], threading.Lock()
    start = time.monotonic()
    handle = fake_stripe.handle

    def tracked(*args):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return handle(*args)
        finally:
            with lock:
                in_flight[0] -= 1

    fake_stripe.handle = tracked
    assert execute_batch(batch.id)["status"] == "paid"
    assert time.monotonic() - start >= 29 / 40 * 0.9  # paced: 30 requests at 40/s
    assert fake_stripe.max_requests_in_any_second() <= 41
    assert peak[0] >= 2
    assert_one_transfer_per_paid_item(fake_stripe, batch)


def test_two_executors_started_together_make_each_transfer_once(postgres, fake_stripe):
    fake_stripe.latency = 0.01
    batch = approved_batch(fake_stripe, referrers=40)
    fake_stripe.fault("timeout", times=3)
    fake_stripe.fault("500", times=3)
    batch_id = batch.id
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        with postgres.app_context():
            try:
                barrier.wait()
                results.append(execute_batch(batch_id)["status"])
            except Exception as error:  # noqa: BLE001  (reported below)
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(results) == 2
    assert {i.status for i in items_of(batch)} == {"paid"}
    assert len(fake_stripe.transfers_made()) == 40
    assert_one_transfer_per_paid_item(fake_stripe, batch)


def test_an_executor_killed_at_random_points_then_restarted_pays_each_item_once(postgres, fake_stripe, migrated,
                                                                                  runner):
    fake_stripe.latency = 0.005
    many_referrers_owed(fake_stripe, 200, amount=600)
    drafter, approver = users_of_finance()
    batch = service.draft_batch("usd", None, drafter)
    db.session.commit()
    service.approve_batch(batch.id, approver)
    db.session.commit()
    assert len(batch.items) == 200
    rng = random.Random(int(os.environ.get("PAYOUT_KILL_SEED", "11")))
    command = [sys.executable, "-m", "tests.payouts_worker", migrated, fake_stripe.url, str(batch.id)]

    def posted():
        return sum(1 for _, method, path in list(fake_stripe.requests) if method == "POST" and path == "/v1/transfers")

    for _ in range(3):
        target = posted() + rng.randint(5, 50)
        worker = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while posted() < target and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    assert 0 < len(fake_stripe.transfers_made()) < 200
    time.sleep(1.1)  # the killed executor's leases run out
    last = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert last.returncode == 0, last.stderr[-2000:]
    assert last.stdout.strip() == "paid"
    assert {i.status for i in items_of(batch)} == {"paid"}
    assert len(fake_stripe.transfers_made()) == 200
    assert_one_transfer_per_paid_item(fake_stripe, batch)
    check = runner.invoke(args=["ledger", "check"])
    assert check.exit_code == 0, check.output


def test_the_cli_executes_with_a_progress_bar_and_refuses_a_draft(runner, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=2)
    result = runner.invoke(args=["payouts", "execute", str(batch.id)])
    assert result.exit_code == 0, result.output
    assert f"Batch {batch.id} is paid: 2 paid." in result.output
    again = runner.invoke(args=["payouts", "execute", str(batch.id)])
    assert again.exit_code == 0 and len(fake_stripe.transfers_made()) == 2
    draft = service.draft_batch  # a draft cannot run
    from tests.payouts_support import referrer_owed, users_of_finance
    referrer_owed(fake_stripe)
    drafter, _ = users_of_finance()
    new = draft("usd", None, drafter)
    db.session.commit()
    refused = runner.invoke(args=["payouts", "execute", str(new.id)])
    assert refused.exit_code == 1 and "Only an approved batch" in refused.output
    assert runner.invoke(args=["payouts", "execute", "999999"]).exit_code == 1


def test_a_failed_item_stripe_did_pay_is_not_paid_by_hand_again(api_as, fake_stripe):
    batch = approved_batch(fake_stripe, referrers=1)
    fake_stripe.fault("500_after_transfer", times=1)
    fake_stripe.fault("500", times=100, route="GET /v1/transfers")  # the group cannot be listed for now
    assert execute_batch(batch.id)["status"] == "partially_failed"
    [item] = items_of(batch)
    assert item.status == "failed"
    fake_stripe.faults.clear()
    r = api_as("finance").post(f"/api/v1/payout-batches/{batch.id}/items/{item.id}/mark-paid",
                               json={"reference": "BANK-1"})
    assert r.status_code == 409 and "Stripe shows transfer" in r.json["message"]
    assert api_as("finance").post(f"/api/v1/payout-batches/{batch.id}/execute").status_code == 202
    [item] = items_of(batch)
    assert (item.status, item.method) == ("paid", "stripe")
    assert_one_transfer_per_paid_item(fake_stripe, batch)


def test_a_batch_whose_task_was_lost_is_executed_again_by_the_sweep_once(app, fake_stripe):
    """A worker killed between Redis handing it the batch's task and noting it loses the task: the batch stays
    `processing` with nobody on it. Beat's sweep starts it again once nothing has touched it for a visibility
    timeout (Redis hands back a task it still knows about by then), and leaves alone a batch being worked on."""
    from rewards.payouts.tasks import resume_stalled_batches

    app.config["CELERY_VISIBILITY_TIMEOUT"] = 600
    batch = approved_batch(fake_stripe)
    other = approved_batch(fake_stripe)  # approved, never started: not the sweep's business

    def last_touched(minutes_ago: int, lease_for: int | None = None):
        then = utcnow() - timedelta(minutes=minutes_ago)
        db.session.execute(db.update(PayoutBatch).where(PayoutBatch.id == batch.id)
                           .values(status="processing", started_at=then))
        db.session.execute(db.update(PayoutItem).where(PayoutItem.batch_id == batch.id).values(updated_at=then))
        if lease_for is not None:  # an executor holds the first item
            first = items_of(batch)[0].id
            db.session.execute(db.update(PayoutItem).where(PayoutItem.id == first).values(
                lease_owner="alive", lease_until=utcnow() + timedelta(minutes=lease_for), updated_at=then))
        db.session.commit()

    last_touched(minutes_ago=5)
    assert resume_stalled_batches.apply().result == 0  # too soon: Redis may still hand the task back
    last_touched(minutes_ago=11, lease_for=2)
    assert resume_stalled_batches.apply().result == 0  # an executor holds an item: it is alive
    assert fake_stripe.transfers_made() == []

    db.session.execute(db.update(PayoutItem).where(PayoutItem.batch_id == batch.id)
                       .values(lease_owner=None, lease_until=None))
    last_touched(minutes_ago=11)
    assert resume_stalled_batches.apply().result == 1  # inline here; a worker's task with Redis
    db.session.expire_all()
    assert db.session.get(PayoutBatch, batch.id).status == "paid"
    assert {item.status for item in items_of(batch)} == {"paid"}
    assert_one_transfer_per_paid_item(fake_stripe, batch)
    assert resume_stalled_batches.apply().result == 0  # done: nothing to resume, nothing paid twice
    assert len(fake_stripe.transfers_made()) == 3
    assert db.session.get(PayoutBatch, other.id).status == "approved"
    assert check_ledger() == []
