"""An executor in a process of its own, for the crash test: `python -m tests.payouts_worker DB_URL STRIPE_URL BATCH_ID`."""
import sys

from config import TestingConfig
from rewards import create_app
from rewards.payouts.executor import execute_batch
from tests.payouts_support import SECRET_KEY


def main(database_url: str, stripe_url: str, batch_id: int) -> None:
    config = type("WorkerConfig", (TestingConfig,), {
        "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_API_BASE": stripe_url,
        "STRIPE_TIMEOUT_SECONDS": 2, "STRIPE_MAX_REQUESTS_PER_SECOND": 2000, "PAYOUT_LEASE_SECONDS": 1,
        "PAYOUT_BACKOFF_SECONDS": 0.05, "PAYOUT_BACKOFF_MAX_SECONDS": 0.2, "PAYOUT_CONCURRENCY": 8,
        "PAYOUT_MAX_ATTEMPTS": 20})
    app = create_app(config)
    with app.app_context():
        print(execute_batch(batch_id)["status"], flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
