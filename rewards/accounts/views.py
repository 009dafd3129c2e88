"""Login, logout, sign-up and the password page."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from rewards.accounts import service
from rewards.accounts.forms import LoginForm, PasswordChangeForm, SignupForm
from rewards.customers.service import enroll_customer, find_customer_by_email
from rewards.errors import DomainError
from rewards.extensions import db, limiter
from rewards.forms import show_error

bp = Blueprint("accounts", __name__)


def home_for(user) -> str:
    if user.role == "customer":
        return url_for("portal.home")
    if user.role == "finance":
        return url_for("admin.finance")
    return url_for("admin.dashboard")


def safe_next(target: str | None) -> str | None:
    """Follow `next` only to a path on this site (no scheme, no host, no `//`)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append("Wrong email or password.")
        else:
            login_user(user)
            db.session.commit()
            flash("You are logged in.", "success")
            return redirect(safe_next(request.args.get("next")) or home_for(user))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        service.end_sessions(current_user)
        db.session.commit()
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = service.create_user(form.email.data, form.password.data, "customer", form.name.data)
            # Someone enrolled earlier by staff or the API takes over their customer record.
            customer = find_customer_by_email(user.email)
            if customer is None:
                enroll_customer(user.email, form.name.data, user=user)
            elif customer.user_id is None:
                customer.user = user
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            show_error(form, exc, "email")
        else:
            login_user(user)
            flash("Welcome! Share your referral link to start earning.", "success")
            return redirect(url_for("portal.home"))
    return render_template("accounts/signup.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            service.change_password(current_user, form.current_password.data, form.new_password.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            show_error(form, exc, "current_password", {"password": "new_password"})
        else:
            login_user(current_user._get_current_object())  # this browser keeps a session under the new token
            flash("Password changed. Other sessions were logged out.", "success")
            return redirect(home_for(current_user))
    return render_template("accounts/password.html", form=form)
