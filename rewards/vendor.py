"""Browser libraries installed from npm at set-up (package.json), served by the app itself: no CDN."""
from pathlib import Path

from flask import Blueprint, abort, send_from_directory

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
# Only these files are served: name in URL → path under node_modules.
ASSETS = {
    "chart.js": "chart.js/dist/chart.umd.js",
    "htmx.js": "htmx.org/dist/htmx.min.js",
    "sortable.js": "sortablejs/Sortable.min.js",
    # Accessibility checks of every page in the browser tests (axe-core).
    "axe.js": "axe-core/axe.min.js",
}

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


@bp.route("/<name>")
def asset(name):
    if name not in ASSETS:
        abort(404)
    path = NODE_MODULES / ASSETS[name]
    if not path.exists():
        abort(404, description=f"{name} is not installed: run `npm ci` (make setup does).")
    return send_from_directory(path.parent, path.name, max_age=86400)
