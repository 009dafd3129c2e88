"""The navigation bar: one list of pages and who may see each. Add a page's entry here."""
from flask import url_for
from flask_login import current_user

# (label, endpoint, roles allowed besides admin)
NAV = [
    ("Portal", "portal.home", ("customer",)),
    ("Dashboard", "admin.dashboard", ("coordinator",)),
    ("Programs", "programs.index", ("coordinator",)),
    ("Finance", "admin.finance", ("finance",)),
    ("Password", "accounts.change_password", ("coordinator", "finance", "customer")),
]


def nav_items():
    return [{"label": label, "href": url_for(endpoint)} for label, endpoint, roles in NAV
            if current_user.is_authenticated and current_user.has_role(*roles)
            and not (endpoint == "portal.home" and current_user.role != "customer")]


def register_navigation(app):
    app.jinja_env.globals["nav_items"] = nav_items
