"""Getting into an account by email: sign-up confirmation, claiming an enrolled customer record, invitations, reset.

Nobody gets into an account by knowing an address: sign-up creates nothing usable until a link sent to that
address is opened, and the password must then be typed again (so a sign-up by someone else, opened by the
address's owner, gives that someone nothing). For a customer enrolled by staff the link is where the owner sets
her password: whatever was typed at sign-up is never used.
"""
from rewards import audit, jobs
from rewards.accounts import service, tokens
from rewards.accounts.models import AccountToken, User
from rewards.contacts import normalize_email
from rewards.customers.models import Customer
from rewards.customers.service import enroll_customer, find_customer_by_email, referral_url
from rewards.errors import Conflict, InvalidInput
from rewards.extensions import db
from rewards.links import public_url
from rewards.mail import service as mail

LINK_GONE = "This link has expired or was used already. Ask for a new one."


def request_signup(name: str, email: str, password: str) -> None:
    """Answer a sign-up with an email to the address (not committed); the caller says the same to everyone."""
    email = normalize_email(email)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Name is required.", "name")
    service.check_password_policy(password, (email, name))
    # Hashed in every case, so the answer takes as long for a known address as for a new one.
    password_hash = service.hash_password(password)
    if service.find_user_by_email(email) is not None:
        mail.queue("account_exists", email, "You already have an account", "account_exists",
                   {"login_url": public_url("accounts.login"), "reset_url": public_url("accounts.reset_request")})
        return
    customer = find_customer_by_email(email)
    if customer is not None:
        send_invitation(customer, reason="signup")
        return
    token = tokens.issue("signup", email, name=name, password_hash=password_hash)
    mail.queue("signup_confirm", email, "Confirm your email address", "signup_confirm",
               {"name": name, "confirm_url": public_url("accounts.confirm_signup", token=token)})


def confirm_signup(token: AccountToken, password: str) -> User:
    """Open the account asked for at sign-up: the link proves the address, the password proves who typed it."""
    if not service.verify_password(token.password_hash or "", password):
        raise InvalidInput("That is not the password typed at sign-up. If you did not sign up, ignore this link.",
                           "password")
    user = service.add_user(token.email, token.password_hash, "customer", token.name or "")
    _attach_customer(user, token.name)
    _used(token, user, "signup")
    return user


def claim_account(token: AccountToken, password: str) -> User:
    """The owner of an enrolled customer record sets her password from the emailed link."""
    customer = find_customer_by_email(token.email)
    name = customer.name if customer else ""
    service.check_password_policy(password, (token.email, name))
    user = service.add_user(token.email, service.hash_password(password), "customer", name)
    _attach_customer(user, name)
    _used(token, user, "claim")
    return user


def _attach_customer(user: User, name: str | None) -> Customer:
    customer = find_customer_by_email(user.email)
    if customer is None:
        return enroll_customer(user.email, name or user.email.split("@")[0], user=user)
    if customer.user_id is not None:
        raise Conflict("This customer already has an account. Log in instead.", "email")
    customer.user = user
    return customer


def _used(token: AccountToken, user: User, how: str) -> None:
    tokens.use(token)
    tokens.revoke(email=user.email, purposes=("signup", "claim"))
    db.session.flush()
    audit.record("user.confirmed", user, {"how": how})


def send_invitation(customer: Customer, reason: str = "invitation") -> None:
    """Email an enrolled customer the link where she sets her password, with her referral link (not committed)."""
    token = tokens.issue("claim", customer.email)
    mail.queue("invitation", customer.email, "Your referral account: set your password", "invitation",
               {"name": customer.name, "claim_url": public_url("accounts.claim", token=token),
                "referral_url": referral_url(customer), "reason": reason})
    audit.record("customer.invited", customer, {"reason": reason})


def send_referral_link(customer: Customer) -> None:
    """Staff's "Resend link": the referral link, plus the password link while the customer has no login yet."""
    if customer.user_id is None:
        send_invitation(customer, reason="resend")
    else:
        mail.queue("referral_link", customer.email, "Your referral link", "referral_link",
                   {"name": customer.name, "referral_url": referral_url(customer),
                    "portal_url": public_url("portal.home")})
    audit.record("customer.link_resent", customer, {"referral_url": referral_url(customer),
                                                    "password_link": customer.user_id is None})


def request_password_reset(email: str) -> None:
    """Start the reset job after the answer is sent: the request does the same work for every address."""
    from rewards.accounts.tasks import password_reset_requested

    jobs.start(password_reset_requested, (email or "").strip().lower()[:254])


def send_password_reset(email: str) -> None:
    """The job: a reset link to an active user, a claim link to an enrolled customer without login, else nothing."""
    user = service.find_user_by_email(email)
    if user is not None and not user.is_disabled:
        token = tokens.issue("reset", user.email, user=user)
        mail.queue("password_reset", user.email, "Reset your password", "password_reset",
                   {"name": user.name, "reset_url": public_url("accounts.reset_password", token=token)})
        audit.record("user.reset_requested", user)
    elif user is None:
        customer = find_customer_by_email(email)
        if customer is not None:
            send_invitation(customer, reason="reset")


def reset_password(token: AccountToken, password: str) -> User:
    """Set a new password from a reset link: the link is used up and every session of the user ends."""
    user = token.user
    if user is None or user.is_disabled:
        raise InvalidInput(LINK_GONE)
    tokens.use(token)
    service.set_password(user, password, how="reset")
    return user
