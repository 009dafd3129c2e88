"""Site-wide bits that belong to no feature: the favicon at the address browsers ask for first."""
from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("site", __name__)


@bp.route("/favicon.ico")
def favicon():
    return send_from_directory(current_app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)
