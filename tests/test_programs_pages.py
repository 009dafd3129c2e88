"""The coordinator's program pages and the earnings section of the customer portal."""
import re
from datetime import datetime, timezone

from rewards.extensions import db
from rewards.ledger.payouts import batch_payable, confirm_paid
from rewards.programs.models import Program
from tests import factories

FORM = {"name": "Spring", "currency": "usd", "reward_type": "percent", "amount": "", "percent": "12.5",
        "min_sale_amount": "20", "max_reward_amount": "", "yearly_cap_amount": "500.00",
        "tiers": "5: 15%\n10: 30", "attribution_days": "30", "hold_days": "14",
        "referee_coupon_code": "WELCOME", "referee_credit_amount": "", "effective_from": "2026-05-01T09:30"}


def test_coordinator_creates_a_version_and_sees_it_in_force(login_as, pages, client):
    login_as("coordinator")
    assert ">Programs<" in client.get("/admin").get_data(as_text=True)
    response = pages.submit("/admin/programs/new", FORM)
    assert response.status_code == 302
    program = db.session.scalar(db.select(Program))
    assert response.headers["Location"].endswith(f"/admin/programs/{program.id}")
    assert (program.effective_from, str(program.percent), program.version) == (
        datetime(2026, 5, 1, 9, 30, tzinfo=timezone.utc), "12.5000", 1)
    assert [(t.from_referral, t.amount, t.percent) for t in program.tiers] == [(5, None, 15), (10, 3000, None)]
    assert (program.min_sale_amount, program.yearly_cap_amount) == (2000, 50000)
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "12.5% of the sale" in detail and "WELCOME" in detail and "30.00 USD" in detail
    listing = client.get("/admin/programs").get_data(as_text=True)
    assert "in force" in listing and "Spring" in listing


def test_inconsistent_form_is_shown_again_with_the_reason(login_as, pages):
    login_as("coordinator")
    response = pages.submit("/admin/programs/new", {**FORM, "percent": ""})
    assert response.status_code == 422
    assert "percent is required for a percent reward" in response.get_data(as_text=True)
    bad_tier = pages.submit("/admin/programs/new", {**FORM, "tiers": "five: lots"})
    assert bad_tier.status_code == 422 and "Cannot read the tier" in bad_tier.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Program.id))) == 0


def test_amounts_are_typed_in_units_and_checked_against_the_currency(login_as, pages, client):
    login_as("coordinator")
    response = pages.submit("/admin/programs/new", {**FORM, "reward_type": "flat", "percent": "", "amount": "25",
                                                    "min_sale_amount": "50", "tiers": ""})
    assert response.status_code == 302
    program = db.session.scalar(db.select(Program))
    assert (program.amount, program.min_sale_amount) == (2500, 5000)
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "25.00 USD per qualified referral" in detail and "50.00 USD" in detail
    refused = pages.submit("/admin/programs/new", {**FORM, "min_sale_amount": "30.001"})
    assert refused.status_code == 422 and "USD amounts have at most 2 decimals" in refused.get_data(as_text=True)
    yen = pages.submit("/admin/programs/new", {**FORM, "currency": "jpy", "min_sale_amount": "500.5"})
    assert yen.status_code == 422 and "JPY amounts are whole numbers" in yen.get_data(as_text=True)
    words = pages.submit("/admin/programs/new", {**FORM, "min_sale_amount": "fifty"})
    assert words.status_code == 422 and "Write an amount in USD" in words.get_data(as_text=True)


def test_a_new_version_starts_from_the_version_in_force(login_as, client):
    factories.program(amount=2500, min_sale_amount=5000, attribution_days=90, hold_days=14)
    login_as("coordinator")
    form = client.get("/admin/programs/new?currency=usd").get_data(as_text=True)
    assert 'id="amount" inputmode="decimal" maxlength="24" name="amount" type="text" value="25.00"' in form
    assert 'name="min_sale_amount" required type="text" value="50.00"' in form
    assert 'name="attribution_days" required type="number" value="90"' in form
    assert 'name="hold_days" required type="number" value="14"' in form


def test_what_if_page_shows_real_and_candidate_costs(login_as, client, app):
    factories.program(amount=1000)
    big = factories.rewarded_sale(factories.customer(), amount=30000,
                                  occurred_at=datetime(2026, 4, 2, tzinfo=timezone.utc))
    small = factories.rewarded_sale(factories.customer(), amount=4000,
                                    occurred_at=datetime(2026, 4, 3, tzinfo=timezone.utc))
    login_as("coordinator")
    query = {"currency": "usd", "reward_type": "flat", "amount": "25", "percent": "", "min_sale_amount": "50",
             "attribution_days": "30", "from_date": "2026-04-01", "to_date": "2026-04-30"}
    page = client.get("/admin/programs/what-if", query_string=query).get_data(as_text=True)
    assert 'data-cost="actual">20.00 USD' in page
    assert 'data-cost="candidate">25.00 USD' in page and 'data-cost="difference">+5.00 USD' in page
    assert "would cost <strong>5.00 USD more</strong>" in page
    changes = re.search(r'id="whatif-changes".*?</table>', page, re.S).group(0)
    rows = re.findall(r'data-referral="(\d+)".*?</tr>', changes, re.S)
    assert rows == [str(big.referral_id), str(small.referral_id)]  # +15.00, then −10.00
    assert "−10.00 USD" in changes and "+15.00 USD" in changes
    invalid = client.get("/admin/programs/what-if", query_string={**query, "amount": ""})
    assert invalid.status_code == 422 and "amount is required" in invalid.get_data(as_text=True)


def test_portal_shows_earnings_per_status_and_each_reward_with_its_referral_and_sale(login_as, client, app):
    factories.program(amount=1000)
    user = login_as("customer")
    paid = factories.rewarded_sale(user.customer, amount=4200, occurred_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
    batch = batch_payable(user.customer.id, "usd", at=datetime(2026, 6, 1, tzinfo=timezone.utc))
    confirm_paid(batch.transaction.id, batch.net)
    db.session.commit()
    reduced = factories.rewarded_sale(user.customer, amount=9900, occurred_at=datetime(2026, 3, 1, tzinfo=timezone.utc))
    factories.refund(reduced.sale, 9900)
    factories.rewarded_sale(factories.customer(), amount=7777)  # someone else's
    page = client.get("/portal").get_data(as_text=True)
    assert 'data-balance="paid">10.00 USD' in page
    assert 'data-balance="reversed">10.00 USD' in page
    assert f'data-reward="{paid.id}"' in page and f'data-reward="{reduced.id}"' in page
    # Each reward with its referral and the day of the purchase; what the buyer paid is theirs (staff only).
    assert 'datetime="2026-01-05' in page and 'datetime="2026-03-01' in page and "Frank Friend" in page
    assert "42.00 USD" not in page and "99.00 USD" not in page
    assert "77.77 USD" not in page
