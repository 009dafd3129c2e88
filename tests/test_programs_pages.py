"""The coordinator's program pages and the earnings section of the customer portal."""
from datetime import datetime, timezone

from rewards.extensions import db
from rewards.ledger.payouts import batch_payable, confirm_paid
from rewards.programs.models import Program
from tests import factories

FORM = {"name": "Spring", "currency": "usd", "reward_type": "percent", "amount": "", "percent": "12.5",
        "min_sale_amount": "2000", "max_reward_amount": "", "yearly_cap_amount": "50000",
        "tiers": "5: 15%\n10: 3000", "attribution_days": "30", "hold_days": "14",
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


def test_what_if_page_shows_real_and_candidate_costs(login_as, client, app):
    factories.program(amount=1000)
    factories.rewarded_sale(factories.customer(), amount=30000, occurred_at=datetime(2026, 4, 2, tzinfo=timezone.utc))
    login_as("coordinator")
    query = {"currency": "usd", "reward_type": "flat", "amount": "2500", "percent": "", "min_sale_amount": "0",
             "attribution_days": "30", "from_date": "2026-04-01", "to_date": "2026-04-30"}
    page = client.get("/admin/programs/what-if", query_string=query).get_data(as_text=True)
    assert 'data-cost="actual">10.00 USD' in page
    assert 'data-cost="candidate">25.00 USD' in page
    invalid = client.get("/admin/programs/what-if", query_string={**query, "amount": ""})
    assert invalid.status_code == 422 and "amount is required" in invalid.get_data(as_text=True)


def test_portal_shows_earnings_per_status_and_each_reward_with_its_referral_and_sale(login_as, client, app):
    factories.program(amount=1000)
    user = login_as("customer")
    paid = factories.rewarded_sale(user.customer, amount=4200, occurred_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
    batch = batch_payable(user.customer.id, "usd", at=datetime(2026, 6, 1, tzinfo=timezone.utc))
    confirm_paid(user.customer.id, "usd", batch.rewards, batch.net)
    db.session.commit()
    reduced = factories.rewarded_sale(user.customer, amount=9900, occurred_at=datetime(2026, 3, 1, tzinfo=timezone.utc))
    factories.refund(reduced.sale, 9900)
    factories.rewarded_sale(factories.customer(), amount=7777)  # someone else's
    page = client.get("/portal").get_data(as_text=True)
    assert 'data-status="paid">10.00 USD' in page
    assert 'data-status="reversed">10.00 USD' in page
    assert f'data-reward="{paid.id}"' in page and f'data-reward="{reduced.id}"' in page
    # Each reward with its referral and the day of the purchase; what the buyer paid is theirs (staff only).
    assert 'datetime="2026-01-05' in page and 'datetime="2026-03-01' in page and "Frank Friend" in page
    assert "42.00 USD" not in page and "99.00 USD" not in page
    assert "77.77 USD" not in page
