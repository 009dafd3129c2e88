"""GET /healthz (the process is up and its database answers) and GET /readyz (ready to take traffic)."""
from flask import Blueprint

from rewards.extensions import db
from rewards.ops import checks

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    ok, _ = checks.database()
    if not ok:
        return {"status": "unavailable", "message": "The database does not answer."}, 503
    return {"status": "ok"}


@bp.route("/readyz")
def readyz():
    """200 when the database, Redis (if configured) and the migrations are ready; else 503 naming what is not.

    The reasons are the checks' short words; `flask --app wsgi doctor` gives the details.
    """
    results = checks.readiness()
    db.session.rollback()  # end the probe's transaction: a pooled connection is not left idle in one
    reasons = {name: "ok" if ok else words.split(" (")[0] for name, (ok, words) in results.items()}
    if all(ok for ok, _ in results.values()):
        return {"status": "ready", "checks": reasons}
    return {"status": "not ready", "checks": reasons}, 503
