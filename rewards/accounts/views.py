"""Login, logout, sign-up and its confirmation, claiming an enrolled record, password change and reset."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, logout_user

from rewards.accounts import auth, onboarding, service, tokens
from rewards.accounts.forms import (ConfirmSignupForm, LoginForm, PasswordChangeForm, ResetRequestForm,
                                    SetPasswordForm, SignupForm)
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


def _limit(name):
    return lambda: current_app.config[name]


def _form_address():
    """The address typed in the form: throttles per address count every spelling of it as one."""
    return "address:" + (request.form.get("email") or "").strip().lower()[:254]


def _user_key():
    return f"user:{current_user.id}" if current_user.is_authenticated else f"client:{request.remote_addr}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_limit("LOGIN_RATE_LIMIT"), methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        if auth.account_login_blocked(form.email.data):
            form.password.errors.append("Too many failed attempts for this account. Wait a few minutes and try "
                                        "again, or reset your password.")
            return render_template("accounts/login.html", form=form), 429
        user = service.authenticate(form.email.data, form.password.data)
        if user is None:
            auth.record_failed_login(form.email.data)
            form.password.errors.append("Wrong email or password.")
        else:
            auth.start_session(user)
            db.session.commit()
            flash("You are logged in.", "success")
            return auth.remember_client(redirect(safe_next(request.args.get("next")) or home_for(user)), user)
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
@limiter.limit(_limit("SIGNUP_RATE_LIMIT"), methods=["POST"])
@limiter.limit(_limit("SIGNUP_ADDRESS_RATE_LIMIT"), key_func=_form_address, methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            onboarding.request_signup(form.name.data, form.email.data, form.password.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            show_error(form, exc, "email")
        else:
            # The same answer whether the address is new, enrolled by staff or has an account already.
            return render_template("accounts/check_email.html", address=form.email.data.strip())
    return render_template("accounts/signup.html", form=form)


def _link_gone():
    return render_template("accounts/link_invalid.html", message=onboarding.LINK_GONE), 404


def _emailed_link_page(purpose, token, form, use, welcome, next_url, template, **context):
    """One flow for every emailed link: a dead link is 404; a valid form uses the token, logs the user in and
    goes on; a refused password stays on the page with its message (422)."""
    row = tokens.find(purpose, token, lock=request.method == "POST")
    if row is None:
        return _link_gone()
    if form.validate_on_submit():
        try:
            user = use(row, form.password.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            show_error(form, exc, "password")
        else:
            auth.start_session(user)
            flash(welcome, "success")
            return auth.remember_client(redirect(next_url(user)), user)
    return render_template(template, form=form, email=row.email, **context), 422 if form.errors else 200


@bp.route("/signup/confirm/<token>", methods=["GET", "POST"])
@limiter.limit(_limit("RESET_RATE_LIMIT"), methods=["POST"])
def confirm_signup(token):
    return _emailed_link_page("signup", token, ConfirmSignupForm(), onboarding.confirm_signup,
                              "Your address is confirmed. Welcome! Share your referral link to start earning.",
                              lambda user: url_for("portal.home"), "accounts/confirm_signup.html")


@bp.route("/account/claim/<token>", methods=["GET", "POST"])
@limiter.limit(_limit("RESET_RATE_LIMIT"), methods=["POST"])
def claim(token):
    return _emailed_link_page("claim", token, SetPasswordForm(), onboarding.claim_account,
                              "Your password is set. Welcome to your referral portal!",
                              lambda user: url_for("portal.home"), "accounts/set_password.html",
                              title="Set your password")


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit(_limit("RESET_RATE_LIMIT"), methods=["POST"])
@limiter.limit(_limit("RESET_ADDRESS_RATE_LIMIT"), key_func=_form_address, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        # Known or not, the answer and the work done before it are the same; the lookup runs after the answer.
        onboarding.request_password_reset(form.email.data)
        return render_template("accounts/check_email.html", address=form.email.data.strip(), reset=True)
    return render_template("accounts/reset_request.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_limit("RESET_RATE_LIMIT"), methods=["POST"])
def reset_password(token):
    return _emailed_link_page("reset", token, SetPasswordForm(), onboarding.reset_password,
                              "Your password is changed. Every other session was logged out.", home_for,
                              "accounts/set_password.html", title="Choose a new password")


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_limit("PASSWORD_CHANGE_RATE_LIMIT"), key_func=_user_key, methods=["POST"])
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
            auth.start_session(current_user._get_current_object())  # this browser keeps a session under the new token
            flash("Password changed. Other sessions were logged out.", "success")
            return redirect(home_for(current_user))
    return render_template("accounts/password.html", form=form)
