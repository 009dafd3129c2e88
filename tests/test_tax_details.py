"""Tax details: entered in the portal, the tax id encrypted at rest, masked everywhere, never logged, rotated with
`keys rotate`, in clear only in the audited tax export; production refuses tax details without a key."""
import csv
import io
import logging
import subprocess
import sys
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from config import ProductionConfig
from rewards.audit.models import AuditEvent
from rewards.extensions import db
from rewards.tax.models import TaxDetails
from tests import factories, finance_data
from tests.conftest import ROOT, csrf_token
from tests.payouts_support import app_config, fake_stripe  # noqa: F401  (finance_data pays through the fake)

TAX_ID = "DE 123456789"
YEAR = datetime.now(timezone.utc).year


def enter(pages, client, **fields):
    data = {"legal_name": "Alice Anders", "country": "de", "tax_id": TAX_ID, **fields}
    return pages.submit("/portal/tax-details", data)


def stored(customer_id) -> TaxDetails:
    db.session.expire_all()
    return db.session.scalar(sa.select(TaxDetails).filter_by(customer_id=customer_id))


def test_customer_enters_tax_details_stored_encrypted_and_shown_masked(app, client, pages, login_as, caplog):
    caplog.set_level(logging.DEBUG)
    user = login_as("customer")
    page = client.get("/portal/tax-details").get_data(as_text=True)
    assert "Still missing: legal name, country, tax id" in page
    response = enter(pages, client)
    assert response.status_code == 302
    details = stored(user.customer.id)
    assert (details.legal_name, details.country) == ("Alice Anders", "DE")
    assert "123456789" not in details.tax_id_encrypted
    assert Fernet(app.config["DATA_ENCRYPTION_KEYS"]).decrypt(details.tax_id_encrypted.encode()).decode() == TAX_ID
    page = client.get("/portal/tax-details").get_data(as_text=True)
    assert "••••6789" in page and "123456789" not in page and "Still missing" not in page
    # Saving again without a tax id keeps the stored one.
    assert enter(pages, client, legal_name="Alice B. Anders", tax_id="").status_code == 302
    assert stored(user.customer.id).tax_id_encrypted == details.tax_id_encrypted
    # Never logged, never audited in clear (nor its token).
    assert "123456789" not in caplog.text and details.tax_id_encrypted not in caplog.text
    events = db.session.scalars(sa.select(AuditEvent).filter_by(action="tax_details.updated")).all()
    assert len(events) == 2 and all("123456789" not in str(e.detail) for e in events)
    assert events[0].detail["fields"] == ["legal_name", "country", "tax_id"]


@pytest.mark.parametrize("fields, message", [
    ({"legal_name": " "}, "This field is required"), ({"country": "XX"}, "two-letter code"),
    ({"country": "Germany"}, "Two letters, e.g. US."),
    ({"tax_id": "=1+2"}, "4 to 40 letters and digits"),
])
def test_bad_tax_details_are_refused_with_a_message(client, pages, login_as, fields, message):
    user = login_as("customer")
    response = enter(pages, client, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert stored(user.customer.id) is None


def test_a_customer_sees_and_changes_only_her_own_tax_details(client, pages, login_as):
    other = factories.user(role="customer")
    login_as("customer")
    assert enter(pages, client).status_code == 302
    assert stored(other.customer.id) is None


def test_without_a_key_tax_details_cannot_be_entered(app, client, pages, login_as):
    app.config.update(DATA_ENCRYPTION_KEYS=None, TAX_DETAILS_ENABLED=False)
    user = login_as("customer")
    assert "cannot be entered here" in client.get("/portal/tax-details").get_data(as_text=True)
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    response = client.post("/portal/tax-details", data={"legal_name": "A", "country": "DE", "tax_id": TAX_ID,
                                                        "csrf_token": token})
    assert response.status_code == 409
    assert stored(user.customer.id) is None


def test_keys_rotate_re_encrypts_under_the_first_key_and_old_keys_can_go(app, client, pages, login_as, runner):
    old = app.config["DATA_ENCRYPTION_KEYS"]
    user = login_as("customer")
    enter(pages, client)
    before = stored(user.customer.id).tax_id_encrypted
    new = Fernet.generate_key().decode()
    app.config["DATA_ENCRYPTION_KEYS"] = f"{new},{old}"
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 tax id(s)" in result.stdout
    after = stored(user.customer.id).tax_id_encrypted
    assert after != before and Fernet(new).decrypt(after.encode()).decode() == TAX_ID
    app.config["DATA_ENCRYPTION_KEYS"] = new  # the old key is gone: the tax id still reads
    assert "••••6789" in client.get("/portal/tax-details").get_data(as_text=True)
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0  # again: harmless


def test_keys_rotate_fails_naming_what_no_key_opens(app, client, pages, login_as, runner):
    login_as("customer")
    enter(pages, client)
    app.config["DATA_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()  # the key it was written with is lost
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 1
    assert "1 tax id(s) could not be decrypted" in result.stderr
    app.config["DATA_ENCRYPTION_KEYS"] = None
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 1 and "DATA_ENCRYPTION_KEYS is not set" in result.stderr


LOW_THRESHOLDS = "usd:22, jpy:501"  # A was paid 22.00 usd (at the threshold) and 500 jpy (below); C 20.00 usd


def test_tax_page_marks_referrers_over_the_threshold_with_missing_details(app, client, pages, login_as, fake_stripe):
    app.config["TAX_REPORTING_THRESHOLDS"] = LOW_THRESHOLDS
    data = finance_data.seed(fake_stripe, client)
    login_as("finance")
    page = client.get(f"/finance/reports/tax?year={YEAR}").get_data(as_text=True)
    assert f'data-customer="{data.a.id}"' in page and page.count(">missing</span>") == 3
    pages.logout()
    user = factories.user(role="customer", customer=False)
    data.a.user = user
    db.session.commit()
    pages.login(user.email)
    enter(pages, client)
    pages.logout()
    login_as("finance")
    page = client.get(f"/finance/reports/tax?year={YEAR}").get_data(as_text=True)
    assert f'data-customer="{data.a.id}"' in page and f'data-customer="{data.b.id}"' not in page
    assert "••••6789" in page and "123456789" not in page and "Alice Anders" in page and "missing<" not in page
    assert "1 referrer(s)" in page
    finance_home = client.get("/finance").get_data(as_text=True)
    assert "1 referrer(s) reached the reporting threshold" in finance_home and "••••6789" in finance_home


def test_tax_export_has_tax_ids_in_clear_and_is_audited(app, client, pages, login_as, fake_stripe):
    app.config["TAX_REPORTING_THRESHOLDS"] = LOW_THRESHOLDS
    data = finance_data.seed(fake_stripe, client)
    user = factories.user(role="customer", customer=False)
    data.a.user = user
    db.session.commit()
    pages.login(user.email)
    enter(pages, client, legal_name="=HYPERLINK(\"http://x\")")
    pages.logout()
    staff = login_as("finance")
    assert client.get(f"/finance/reports/tax-export?year={YEAR}").status_code == 405  # a link cannot fetch it
    response = pages.submit("/finance/reports/tax-export", {"year": YEAR}, form_path=f"/finance/reports/tax?year={YEAR}")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [["customer_id", "customer_email", "legal_name", "country", "tax_id", "currency", "rewards_earned",
                     "rewards_reversed", "paid"],
                    [str(data.a.id), "alice.a@example.com", "'=HYPERLINK(\"http://x\")", "DE", TAX_ID, "usd",
                     "3000", "1500", "2200"]]
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="reports.tax_export"))
    assert (event.actor_user_id, event.detail["year"]) == (staff.id, YEAR)


def test_tax_export_cli_writes_the_file_and_audits(app, client, runner, tmp_path, fake_stripe):
    app.config["TAX_REPORTING_THRESHOLDS"] = LOW_THRESHOLDS
    finance_data.seed(fake_stripe, client)
    out = tmp_path / "tax.csv"
    result = runner.invoke(args=["reports", "tax-export", "--year", str(YEAR), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 2
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="reports.tax_export"))
    assert event.detail == {"year": YEAR, "rows": 1, "via": "cli"}


def _production(env):
    code = "from config import ProductionConfig; ProductionConfig(); print('started')"
    base = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 32, "DATABASE_URL": "sqlite:///unused.db", "HOME": "/tmp"}
    return subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                          cwd=ROOT)


def test_production_refuses_to_start_with_tax_details_enabled_and_no_key():
    refused = _production({"TAX_DETAILS_ENABLED": "1"})
    assert refused.returncode != 0 and "DATA_ENCRYPTION_KEYS is not set" in refused.stderr
    bad = _production({"DATA_ENCRYPTION_KEYS": "not-a-key"})
    assert bad.returncode != 0 and "key number 1 is not a Fernet key" in bad.stderr and "not-a-key" not in bad.stderr
    assert _production({}).stdout.strip() == "started"  # no key: tax details simply off
    assert _production({"DATA_ENCRYPTION_KEYS": Fernet.generate_key().decode()}).stdout.strip() == "started"
    assert ProductionConfig  # the class the subprocesses start
