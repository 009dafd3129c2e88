"""Demo data for a first look: staff logins, a few dozen customers and their referrals. Safe to run twice."""
import random
from datetime import timedelta

from rewards.accounts import service as accounts
from rewards.clock import utcnow
from rewards.customers.service import enroll_customer, find_customer_by_email
from rewards.extensions import db
from rewards.referrals.models import Referral

DEMO_PASSWORD = "refero-demo-2026"
DEMO_USERS = [
    ("admin@example.com", "admin", "Ada Admin"),
    ("coordinator@example.com", "coordinator", "Cora Coordinator"),
    ("finance@example.com", "finance", "Finn Finance"),
    ("customer@example.com", "customer", "Casey Customer"),
]
FIRST = ["Alex", "Blair", "Casey", "Devon", "Emery", "Frankie", "Gray", "Harper", "Indy", "Jules", "Kai", "Logan",
         "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Taylor", "Umi", "Val", "Wren", "Yael"]
LAST = ["Ito", "Novak", "Okafor", "Silva", "Berg", "Kowalski", "Haddad", "Moreau", "Larsen", "Tanaka", "Adeyemi"]


def seed():
    """Create what is missing and yield a line for each thing done."""
    rng = random.Random(2026)
    for email, role, name in DEMO_USERS:
        if accounts.find_user_by_email(email):
            continue
        user = accounts.create_user(email, DEMO_PASSWORD, role, name)
        if role == "customer":
            enroll_customer(email, name, user=user)
        yield f"user {email} ({role})"
    db.session.commit()

    customers = []
    for i in range(36):
        first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
        email = f"{first.lower()}.{last.lower()}{i}@example.com"
        customer = find_customer_by_email(email) or enroll_customer(email, f"{first} {last}")
        customers.append(customer)
    customers.append(find_customer_by_email("customer@example.com"))
    db.session.commit()

    statuses = ["pending"] * 6 + ["qualified"] * 3 + ["review", "rejected", "expired"]
    now = utcnow()
    created = 0
    for n, customer in enumerate(customers):
        for k in range(rng.randint(0, 3)):
            referee = f"friend{n}-{k}@example.org"
            # Draw every value before the existence check, so a second run repeats the same draws.
            name, status = f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(statuses)
            source = rng.choice(["portal", "link", "link", "api"])
            created_at = now - timedelta(days=rng.randint(0, 90), hours=rng.randint(0, 23))
            if db.session.scalar(db.select(Referral.id).filter_by(referrer_id=customer.id, referee_email=referee)):
                continue
            db.session.add(Referral(referrer_id=customer.id, referee_email=referee, referee_name=name,
                                    status=status, source=source, created_at=created_at))
            created += 1
    db.session.commit()
    yield f"{len(customers)} customers, {created} new referrals"
    yield f"Demo logins (password {DEMO_PASSWORD}): " + ", ".join(e for e, _, _ in DEMO_USERS)
