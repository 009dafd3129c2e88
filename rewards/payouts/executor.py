"""Executing a payout batch: one Stripe transfer per item, exactly once, in atomic phases.

For each item (habit 16, "atomic phases"):
1. claim, under `FOR UPDATE SKIP LOCKED` plus a guarded update (status pending, no live lease): write the
   attempt's idempotency key `payout-item-<id>-g<n>` and commit, before anything leaves the building;
2. call Stripe with that key, holding no database lock or transaction (threads do only HTTP);
3. record the answer and commit: paid (settled in the ledger), or the error with Stripe's code and message.

Stripe keeps a key's first answer for 24 hours, errors included. So after a recorded error (or with a key older
than a day) the next try first lists the transfers of the item's `transfer_group`: one → it was made, record it
paid; none → the next generation's key; more than one → `review`, for a person. An answer Stripe does not keep
(a timeout, a dropped connection, 429, a key in use) is retried with the same key. A crash between the phases
leaves the key committed: the next executor resends it and Stripe answers with the transfer it made, if any.
"""
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, update

from rewards import audit
from rewards.bulk import among, update_rows
from rewards.clock import utcnow
from rewards.errors import Conflict
from rewards.extensions import db
from rewards.payouts import service, stripe_client
from rewards.payouts.models import PayoutBatch, PayoutItem

ITEMS = PayoutItem.__table__
# Stripe keeps an idempotency key for 24 hours; past this age a key is not trusted to answer for its first use.
KEY_TRUSTED_FOR = timedelta(hours=23)


@dataclass
class Work:
    """One claimed item and what to ask Stripe: `send` (create the transfer with `key`) or `lookup` (list the group).

    It carries what settling the item needs (amount, currency, batch transaction), so a transfer made as asked is
    recorded without loading the item again."""

    id: int
    action: str
    generation: int
    key: str
    params: dict
    transfer_group: str
    amount: int
    currency: str
    destination: str | None
    batch_transaction_id: int | None


@dataclass
class Settings:
    concurrency: int = 8
    lease_seconds: float = 120.0
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    # After a first answer, how long to let others arrive so they are recorded in one transaction (less when every
    # call in flight has answered): a round costs about twenty statements whatever its size, so at a batch's rate
    # rounds of a second keep that cost per transfer small; the claimed work queued behind the calls keeps the
    # threads sending meanwhile. A crash loses nothing: an answer not yet recorded is asked again under its key.
    gather_seconds: float = 1.0

    @classmethod
    def from_config(cls, config) -> "Settings":
        return cls(concurrency=int(config.get("PAYOUT_CONCURRENCY", 8)),
                   lease_seconds=float(config.get("PAYOUT_LEASE_SECONDS", 120)),
                   max_attempts=int(config.get("PAYOUT_MAX_ATTEMPTS", 5)),
                   backoff_seconds=float(config.get("PAYOUT_BACKOFF_SECONDS", 1.0)),
                   backoff_max_seconds=float(config.get("PAYOUT_BACKOFF_MAX_SECONDS", 60)))


def transfer_params(row) -> dict:
    """The transfer of an item: always the same parameters, so every send under one key is the same request."""
    return {"amount": row.amount, "currency": row.currency, "destination": row.destination,
            "transfer_group": row.transfer_group, "description": f"Refero referral rewards, payout batch {row.batch_id}",
            "metadata": {"refero_batch_id": str(row.batch_id), "refero_item_id": str(row.id)}}


class Executor:
    """Runs one batch's pending items to an end state; safe to run again, or alongside another executor."""

    def __init__(self, batch_id: int, settings: Settings | None = None, on_progress=None):
        self.batch_id = batch_id
        self.settings = settings or Settings.from_config(current_app.config)
        self.owner = f"{uuid.uuid4().hex[:12]}:{threading.get_ident() % 100000}"
        self.on_progress = on_progress
        self.stripe = stripe_client.client() if stripe_client.is_configured() else None

    # ---- phase 0: the batch starts ------------------------------------------------------------------------
    def start(self) -> None:
        batch = service.get_batch(self.batch_id, lock=True)
        if batch.status == "approved":
            batch.status, batch.started_at = "processing", utcnow()
            audit.record("payout_batch.processing", batch, {})
        elif batch.status not in ("processing", "paid", "partially_failed"):  # done ones: only pending items run
            db.session.rollback()
            raise Conflict(f"Only an approved batch can be executed; this batch is {batch.status}.")
        db.session.commit()

    def run(self) -> dict:
        """Send every pending item; returns the batch's progress at the end."""
        self.start()
        if self.stripe is None:
            self.fail_unconfigured()
            return self.finish()
        in_flight = {}
        depth = self.queue_depth()
        with ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="payout") as pool:
            while True:
                # Claimed work queues up behind the calls in flight (about two seconds of it at the paced rate),
                # so the threads keep sending while this thread gathers and records a round of answers.
                room = depth - len(in_flight)
                claimed = self.claim(room) if room >= max(1, depth // 4) or not in_flight else []
                for work in claimed:
                    in_flight[pool.submit(self.call, work)] = work
                if not in_flight:
                    pause = self.next_wake()
                    if pause is None:
                        break
                    time.sleep(pause)
                    continue
                done, _ = wait(list(in_flight), timeout=0.5, return_when=FIRST_COMPLETED)
                if done and len(done) < len(in_flight):  # more answers land meanwhile: recorded together
                    done, _ = wait(list(in_flight), timeout=self.settings.gather_seconds)
                if done:
                    self.record([(in_flight.pop(future), future.result()) for future in done])
        return self.finish()

    def queue_depth(self) -> int:
        """How many items to hold claimed: two seconds of calls at the rate they can go (the paced rate, or what the
        threads make at 50 ms a call if that is less), at least four per thread, and no more than a quarter of a
        lease's worth (a claimed item must be sent long before its lease runs out)."""
        rate = min(1.0 / self.stripe.pacer.interval, self.settings.concurrency / 0.05)
        return max(self.settings.concurrency * 4, int(rate * min(2.0, self.settings.lease_seconds / 4)))

    # ---- phase 1: claim and commit the key ----------------------------------------------------------------
    def claim(self, limit: int) -> list[Work]:
        now = utcnow()
        claimable = (ITEMS.c.batch_id == self.batch_id) & (ITEMS.c.status == "pending") \
            & or_(ITEMS.c.next_attempt_at.is_(None), ITEMS.c.next_attempt_at <= now) \
            & or_(ITEMS.c.lease_until.is_(None), ITEMS.c.lease_until < now)
        ids = db.session.scalars(db.select(ITEMS.c.id).where(claimable).order_by(ITEMS.c.id).limit(limit)
                                 .with_for_update(skip_locked=True)).all()
        if not ids:
            db.session.commit()
            return []
        rows = db.session.execute(
            update(ITEMS).where(among(ITEMS.c.id, ids), claimable)
            .values(lease_owner=self.owner, lease_until=now + timedelta(seconds=self.settings.lease_seconds),
                    attempts=ITEMS.c.attempts + 1)
            .returning(ITEMS.c.id, ITEMS.c.batch_id, ITEMS.c.amount, ITEMS.c.currency, ITEMS.c.destination,
                       ITEMS.c.transfer_group, ITEMS.c.attempt_generation, ITEMS.c.attempt_state,
                       ITEMS.c.key_first_sent_at, ITEMS.c.idempotency_key, ITEMS.c.batch_transaction_id)).all()
        work, new_keys = [], []
        for row in rows:
            stale = row.key_first_sent_at is not None and now - row.key_first_sent_at > KEY_TRUSTED_FOR
            item = {"transfer_group": row.transfer_group, "amount": row.amount, "currency": row.currency,
                    "destination": row.destination, "batch_transaction_id": row.batch_transaction_id}
            if row.attempt_state == "error" or (row.attempt_state == "sent" and stale):
                work.append(Work(row.id, "lookup", row.attempt_generation, row.idempotency_key, {}, **item))
                continue
            key = row.idempotency_key if row.attempt_state == "sent" else PayoutItem.key_for(row.id, row.attempt_generation)
            if row.attempt_state == "new":
                new_keys.append({"id": row.id, "idempotency_key": key})
            work.append(Work(row.id, "send", row.attempt_generation, key, transfer_params(row), **item))
        update_rows(ITEMS, "id", {"attempt_state": "sent", "key_first_sent_at": now}, new_keys)
        db.session.commit()  # the recovery point: the key is stored before Stripe hears of it
        return work

    # ---- phase 2: the call, no database -------------------------------------------------------------------
    def call(self, work: Work):
        if work.action == "send":
            return self.stripe.create_transfer(work.params, work.key)
        return self.stripe.transfers_in_group(work.transfer_group)

    # ---- phase 3: record the answers, commit --------------------------------------------------------------
    def record(self, results) -> None:
        """One transaction for a round of answers. A transfer made as asked (the common case) is settled straight
        from the claimed work; any other answer (an error, a lookup, a transfer that does not match) loads its item
        under a row lock to decide. Every settlement is guarded by this executor's lease and the attempt's
        generation: an item another executor took over meanwhile is left to it (its answer counts)."""
        self.paid, others = [], []
        for work, answer in results:
            if work.action == "send" and isinstance(answer, stripe_client.Outcome) and answer.kind == "ok" \
                    and self._matches(work, answer.transfer):
                self.paid.append((work, answer.transfer["id"], stripe_client.created_time(answer.transfer)))
            else:
                others.append((work, answer))
        items = {}
        if others:
            items = {item.id: item for item in db.session.scalars(
                db.select(PayoutItem).where(PayoutItem.id.in_(sorted(work.id for work, _ in others)))
                .order_by(PayoutItem.id).with_for_update().execution_options(populate_existing=True))}
            for work, answer in others:
                item = items[work.id]
                if item.status != "pending" or item.lease_owner != self.owner or item.attempt_generation != work.generation:
                    continue  # another executor took it over (our lease ran out): its answer counts
                if isinstance(answer, list):
                    self._record_lookup(item, work, answer)
                elif answer.kind == "ok":
                    self._record_transfer(item, work, answer.transfer)
                else:
                    self._record_failure(item, work, answer)
        settled = service.settle_items(self.paid, held_by=self.owner)
        db.session.commit()
        if self.on_progress:
            ended = {item.id for item in settled} | {i for i, item in items.items() if item.status != "pending"}
            self.on_progress(len(ended))

    @staticmethod
    def _matches(item, transfer: dict) -> bool:
        """Stripe's transfer is the one this item asked for (a key's stored answer always is)."""
        return transfer.get("amount") == item.amount and transfer.get("destination") == item.destination \
            and transfer.get("transfer_group") == item.transfer_group

    def _release(self, item: PayoutItem, **values):
        for name, value in {"lease_owner": None, "lease_until": None, **values}.items():
            setattr(item, name, value)

    def _record_transfer(self, item: PayoutItem, work: Work, transfer: dict):
        if not self._matches(item, transfer):
            self._release(item, status="review", failure_code="transfer_mismatch",
                          failure_message=f"Stripe's transfer {transfer.get('id')} does not match this item "
                                          f"(amount {transfer.get('amount')}, destination {transfer.get('destination')}).")
            audit.record("payout_item.review", item, {"transfer": transfer.get("id")})
            return
        self.paid.append((work, transfer["id"], stripe_client.created_time(transfer)))

    def _record_lookup(self, item: PayoutItem, work: Work, transfers: list[dict]):
        if len(transfers) == 1:
            self._record_transfer(item, work, transfers[0])
        elif not transfers:
            # Nothing was made under the group: the next generation's key, sent on the next claim.
            self._release(item, attempt_generation=item.attempt_generation + 1, attempt_state="new",
                          idempotency_key=None, key_first_sent_at=None, next_attempt_at=None)
        else:
            ids = ", ".join(t["id"] for t in transfers)
            self._release(item, status="review", failure_code="several_transfers",
                          failure_message=f"Stripe lists {len(transfers)} transfers for this item ({ids}): a person "
                                          "must decide which stands and reverse the others.")
            audit.record("payout_item.review", item, {"transfers": [t["id"] for t in transfers]})

    def _backoff(self, item: PayoutItem, retry_after: float | None) -> timedelta:
        seconds = retry_after if retry_after else min(self.settings.backoff_seconds * 2 ** (item.attempts - 1),
                                                      self.settings.backoff_max_seconds)
        return timedelta(seconds=seconds)

    def _record_failure(self, item: PayoutItem, work: Work, outcome: stripe_client.Outcome):
        values = {"failure_code": outcome.code, "failure_message": outcome.message}
        if outcome.kind == "error" and work.action == "send":
            values["attempt_state"] = "error"  # Stripe keeps this answer for the key: look before the next key
        if (outcome.transient or outcome.kind == "retry") and item.attempts < self.settings.max_attempts:
            values["next_attempt_at"] = utcnow() + self._backoff(item, outcome.retry_after)
        else:
            values["status"] = "failed"
            audit.record("payout_item.failed", item, {"code": outcome.code, "message": outcome.message})
        self._release(item, **values)

    def fail_unconfigured(self) -> None:
        """Without STRIPE_SECRET_KEY nothing can be sent: each pending item fails saying so, for a manual payment."""
        message = "Stripe is not configured (STRIPE_SECRET_KEY): pay this item by hand and mark it paid."
        for state, text in (("new", message), ("sent", message + " It was sent to Stripe before: check Stripe's "
                                                          "transfers first."), ("error", message)):
            db.session.execute(update(ITEMS).where(ITEMS.c.batch_id == self.batch_id, ITEMS.c.status == "pending",
                                                   ITEMS.c.attempt_state == state)
                               .values(status="failed", failure_code="not_configured", failure_message=text))
        db.session.commit()

    # ---- the end ------------------------------------------------------------------------------------------
    def next_wake(self) -> float | None:
        """Seconds until one of the batch's pending items may be tried again (at most 1); None when none is left."""
        now = utcnow()
        rows = db.session.execute(db.select(ITEMS.c.next_attempt_at, ITEMS.c.lease_until, ITEMS.c.lease_owner)
                                  .where(ITEMS.c.batch_id == self.batch_id, ITEMS.c.status == "pending")).all()
        db.session.commit()
        waits = []
        for next_at, lease_until, owner in rows:
            # An item another executor holds is waited for: it finishes it, or its lease runs out (it died).
            at = max(t for t in (next_at, lease_until if owner != self.owner else None, now) if t is not None)
            waits.append((at - now).total_seconds())
        return min(min(waits), 1.0) + 0.01 if waits else None

    def finish(self) -> dict:
        batch = service.get_batch(self.batch_id, lock=True)
        service.finish_batch_if_done(batch)
        result = {"status": batch.status, **service.progress(batch)}
        db.session.commit()
        return result


def execute_batch(batch_id: int, on_progress=None) -> dict:
    """Run the batch's pending items in this process (the CLI and the background task both come here)."""
    return Executor(batch_id, on_progress=on_progress).run()


def batch_is_executing(batch: PayoutBatch) -> bool:
    return batch.status == "processing"


def stalled_batches(older_than: timedelta) -> list[int]:
    """Batches left `processing` with no sign of an executor for `older_than`: no item held or recorded, none
    waiting for a retry. Their task was lost (a worker killed between Redis handing it over and noting it), or
    their executor died after its last answer and before closing the batch. Running one again is safe."""
    items = PayoutItem
    rows = db.session.execute(
        db.select(PayoutBatch.id, PayoutBatch.started_at, db.func.max(items.updated_at),
                  db.func.max(items.lease_until), db.func.max(items.next_attempt_at))
        .outerjoin(items, items.batch_id == PayoutBatch.id)
        .where(PayoutBatch.status == "processing").group_by(PayoutBatch.id, PayoutBatch.started_at)
        .order_by(PayoutBatch.id)).all()
    cutoff = utcnow() - older_than
    return [batch_id for batch_id, *signs in rows if all(sign is None or sign < cutoff for sign in signs)]
