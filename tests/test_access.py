"""Every route of the app and who may use it: walks app.url_map, so a new route without a row here fails."""
import re

import pytest

from tests import factories

PUBLIC = "public"       # anyone, logged in or not
LOGGED_IN = "logged-in"  # any role
ROLES = ("admin", "coordinator", "finance", "customer")
# Served files, not views with rules of their own.
NOT_VIEWS = {"static", "bootstrap.static", "vendor.asset", "site.favicon"}

# endpoint → {method: who}; who is PUBLIC, LOGGED_IN or the roles besides admin (admin may do everything).
ACCESS = {
    "health.healthz": {"GET": PUBLIC},
    "health.readyz": {"GET": PUBLIC},
    "metrics.metrics": {"GET": PUBLIC},  # loopback or METRICS_TOKEN, not roles: tests/test_ops_metrics.py
    "api-docs.openapi_json": {"GET": PUBLIC},
    "accounts.login": {"GET": PUBLIC, "POST": PUBLIC},
    "accounts.logout": {"POST": PUBLIC},
    "accounts.signup": {"GET": PUBLIC, "POST": PUBLIC},
    "accounts.change_password": {"GET": LOGGED_IN, "POST": LOGGED_IN},
    "portal.landing": {"GET": PUBLIC, "POST": PUBLIC},
    "portal.home": {"GET": {"customer"}},
    "portal.qr_code": {"GET": {"customer"}},
    "portal.new_referral": {"GET": {"customer"}, "POST": {"customer"}},
    "portal.referral_detail": {"GET": {"customer"}},
    "admin.dashboard": {"GET": {"coordinator"}},
    "admin.finance": {"GET": {"finance"}},
    "referrals.new": {"GET": {"coordinator"}, "POST": {"coordinator"}},
    "referrals.review_queue": {"GET": {"coordinator"}},
    "referrals.approve": {"POST": {"coordinator"}},
    "referrals.reject": {"POST": {"coordinator"}},
    "referrals.bulk": {"POST": {"coordinator"}},
    "referrals_api.ApproveReferral": {"POST": {"coordinator"}},
    "referrals_api.RejectReferral": {"POST": {"coordinator"}},
    "sales_api.Sales": {"POST": {"coordinator"}},
    "sales_api.SaleRefunds": {"POST": {"coordinator"}},
    "sales_api.SalesImport": {"POST": {"coordinator"}},
    "webhooks.stripe_webhook": {"POST": PUBLIC},
    "programs.index": {"GET": {"coordinator"}},
    "programs.new": {"GET": {"coordinator"}, "POST": {"coordinator"}},
    "programs.detail": {"GET": {"coordinator"}},
    "programs.whatif": {"GET": {"coordinator"}},
    "programs_api.Programs": {"GET": {"coordinator"}, "POST": {"coordinator"}},
    "programs_api.ProgramById": {"GET": {"coordinator"}},
    "programs_api.WhatIf": {"POST": {"coordinator"}},
    "rewards_api.Rewards": {"GET": {"coordinator", "finance", "customer"}},
    "rewards_api.RewardById": {"GET": {"coordinator", "finance", "customer"}},
    "customer_balances_api.CustomerBalance": {"GET": {"coordinator", "finance", "customer"}},  # no login: Stripe's signature is checked instead
    "customers_api.Customers": {"POST": {"coordinator"}},
    "customers_api.CustomerById": {"GET": {"coordinator", "finance", "customer"}},
    "referrals_api.Referrals": {"GET": {"coordinator", "finance", "customer"}, "POST": {"coordinator", "customer"}},
    "referrals_api.ReferralById": {"GET": {"coordinator", "finance", "customer"}},
    "admin_referrals.pipeline": {"GET": {"coordinator", "finance"}},
    "admin_referrals.detail": {"GET": {"coordinator", "finance"}},
    "admin_referrals.add_note": {"POST": {"coordinator"}},
    "admin_customers.index": {"GET": {"coordinator", "finance"}},
    "admin_customers.new": {"GET": {"coordinator"}, "POST": {"coordinator"}},
    "admin_customers.detail": {"GET": {"coordinator", "finance"}},
    "admin_customers.resend_link": {"POST": {"coordinator"}},
    "admin_audit.index": {"GET": {"coordinator"}},
    "tasks.board": {"GET": {"coordinator"}},
    "tasks.new": {"GET": {"coordinator"}, "POST": {"coordinator"}},
    "tasks.edit": {"GET": {"coordinator"}, "POST": {"coordinator"}},
    "tasks.move": {"POST": {"coordinator"}},
    "tasks.delete": {"POST": {"coordinator"}},
    "tasks.settings": {"GET": {"coordinator"}, "POST": {"coordinator"}},
    "tasks_api.Tasks": {"GET": {"coordinator"}, "POST": {"coordinator"}},
    "tasks_api.TaskById": {"GET": {"coordinator"}, "PATCH": {"coordinator"}, "DELETE": {"coordinator"}},
    "reports_api.JournalCsv": {"GET": {"finance"}},
    "reports_api.ReferrersCsv": {"GET": {"finance"}},
    "reports_api.PayoutsCsv": {"GET": {"finance"}},
    "reports.payouts_csv": {"GET": {"finance"}},
    "reports.reconciliations": {"GET": {"finance"}},
    "reports.reconcile": {"POST": {"finance"}},
    "reports.reconciliation_run": {"GET": {"finance"}},
    "reports.journal_csv": {"GET": {"finance"}},
    "reports.referrers_csv": {"GET": {"finance"}},
    "reports.tax": {"GET": {"finance"}},
    "reports.tax_export": {"POST": {"finance"}},
    "reports.staff_statement": {"GET": {"finance"}},
    "reports.staff_statement_csv": {"GET": {"finance"}},
    "reports.my_statement": {"GET": {"customer"}},
    "reports.my_statement_csv": {"GET": {"customer"}},
    "tax.tax_details": {"GET": {"customer"}, "POST": {"customer"}},
    "payouts_pages.draft": {"POST": {"finance"}},
    "payouts_pages.batch": {"GET": {"finance"}},
    "payouts_pages.approve": {"POST": {"finance"}},
    "payouts_pages.cancel": {"POST": {"finance"}},
    "payouts_pages.execute": {"POST": {"finance"}},
    "payouts_pages.retry_item": {"POST": {"finance"}},
    "payouts_pages.mark_paid": {"POST": {"finance"}},
    "payouts_pages.referrer": {"GET": {"finance"}, "POST": {"finance"}},
    "payouts_pages.portal": {"GET": {"customer"}},
    "payouts_pages.connect": {"POST": {"customer"}},
    "payouts_pages.onboarding_refresh": {"GET": {"customer"}},
    "payouts_pages.onboarding_return": {"GET": {"customer"}},
    "payouts_pages.dashboard": {"POST": {"customer"}},
    "payout_accounts_api.PayoutAccountOfCustomer": {"GET": {"finance", "customer"}, "PUT": {"finance"}},
    "payout_accounts_api.PayoutAccountOnboarding": {"POST": {"finance", "customer"}},
    "payout_batches_api.PayoutBatches": {"GET": {"finance"}, "POST": {"finance"}},
    "payout_batches_api.PayoutBatchById": {"GET": {"finance"}},
    "payout_batches_api.CancelPayoutBatch": {"POST": {"finance"}},
    "payout_batches_api.ApprovePayoutBatch": {"POST": {"finance"}},
    "payout_batches_api.ExecutePayoutBatch": {"POST": {"finance"}},
    "payout_batches_api.MarkItemPaid": {"POST": {"finance"}},
}


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_VIEWS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def url_for_rule(rule):
    """The rule's path with every variable filled by a value that names nothing."""
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "999999" if m.group(1) == "int" else "nothing", rule.rule)


def test_every_route_has_a_rule(app):
    missing = sorted({f"{method} {rule.rule} ({rule.endpoint})" for rule, method in routes(app)
                      if method not in ACCESS.get(rule.endpoint, {})})
    assert not missing, "routes without an access rule in tests/test_access.py:\n" + "\n".join(missing)


def _allowed(who, role):
    if who in (PUBLIC, LOGGED_IN):
        return True
    return role == "admin" or role in who


def _is_api(rule):
    return rule.rule.startswith("/api/")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_what_it_may(app, client, pages, role):
    user = factories.user(role=role)
    _, secret = factories.api_key(user)
    assert pages.login(user.email).status_code == 302
    app.config["WTF_CSRF_ENABLED"] = False  # the role check is under test here, not the token
    wrong = []
    for rule, method in routes(app):
        who = ACCESS.get(rule.endpoint, {}).get(method)
        if who is None or rule.endpoint == "accounts.logout":
            continue
        headers = {"Authorization": f"Bearer {secret}"} if _is_api(rule) else {}
        response = client.open(url_for_rule(rule), method=method, headers=headers,
                               **({"json": {}} if _is_api(rule) and method != "GET" else {}))
        denied = response.status_code in (401, 403) or (
            response.status_code == 302 and "/login" in response.headers.get("Location", ""))
        if _allowed(who, role) and denied:
            wrong.append(f"{role} {method} {rule.rule}: {response.status_code}, expected access")
        if not _allowed(who, role) and response.status_code != 403:
            wrong.append(f"{role} {method} {rule.rule}: {response.status_code}, expected 403")
    assert not wrong, "\n".join(wrong)


def test_anonymous_is_sent_to_login_or_refused(app, client):
    app.config["WTF_CSRF_ENABLED"] = False
    wrong = []
    for rule, method in routes(app):
        who = ACCESS.get(rule.endpoint, {}).get(method)
        if who is None or who is PUBLIC:
            continue
        response = client.open(url_for_rule(rule), method=method)
        if _is_api(rule):
            ok = response.status_code == 401 and response.json["code"] == 401
        else:
            ok = response.status_code == 302 and "/login" in response.headers["Location"]
        if not ok:
            wrong.append(f"{method} {rule.rule}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
