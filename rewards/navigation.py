"""The navigation bar: one list of pages and who may see each. Add a page's entry here."""
from flask import request, url_for
from flask_login import current_user

# (label, endpoint, roles allowed besides admin)
NAV = [
    ("Portal", "portal.home", ("customer",)),
    ("Payouts", "payouts_pages.portal", ("customer",)),
    ("Statement", "reports.my_statement", ("customer",)),
    ("Tax details", "tax.tax_details", ("customer",)),
    ("Dashboard", "admin.dashboard", ("coordinator",)),
    ("Referrals", "admin_referrals.pipeline", ("coordinator", "finance")),
    ("Review", "referrals.review_queue", ("coordinator",)),
    ("Customers", "admin_customers.index", ("coordinator", "finance")),
    ("Programs", "programs.index", ("coordinator",)),
    ("Tasks", "tasks.board", ("coordinator",)),
    ("Audit log", "admin_audit.index", ("coordinator",)),
    ("Finance", "admin.finance", ("finance",)),
    ("Password", "accounts.change_password", ("coordinator", "finance", "customer")),
]


def nav_items():
    items = [{"label": label, "href": url_for(endpoint)} for label, endpoint, roles in NAV
             if current_user.is_authenticated and current_user.has_role(*roles)
             and not (roles == ("customer",) and current_user.role != "customer")]
    # The current page is the entry with the longest matching path: /admin/tasks is Tasks, not Dashboard.
    matches = [item for item in items if request.path == item["href"] or request.path.startswith(item["href"] + "/")]
    current = max(matches, key=lambda item: len(item["href"]), default=None)
    for item in items:
        item["active"] = item is current
    return items
