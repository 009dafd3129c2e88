"""Refero: customer-referral rewards. `create_app()` assembles the Flask application."""
from flask import Flask

from config import config_from_environment
from rewards.garbage import without_gc


def create_app(config_object=None) -> Flask:
    with without_gc():  # importing the app's modules and registering its routes leaves no garbage to look for
        app = Flask(__name__, template_folder="../templates", static_folder="../static")
        app.config.from_object(config_object or config_from_environment())
        register_logging(app)
        register_extensions(app)
        register_blueprints(app)
        register_errorhandlers(app)
        register_commands(app)
    return app


def register_logging(app):
    from rewards.ops.logs import register_logging as register

    register(app)


def register_extensions(app):
    from rewards import models  # noqa: F401  (every model registered before Alembic or queries look)
    from rewards.accounts.auth import register_auth
    from rewards.bounds import register_bounds
    from rewards.dbpool import skip_pre_ping, watch_checkouts
    from rewards.extensions import api, bootstrap, csrf, db, limiter, login_manager, mail, migrate
    from rewards.jobs import init_celery
    from rewards.templating import register_templating
    from rewards.security import register_security_headers

    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    register_bounds(app)
    skip_pre_ping(app)
    db.init_app(app)
    with app.app_context():
        watch_checkouts(db.engine)
    migrate.init_app(app, db, render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)
    mail.init_app(app)
    api.init_app(app)
    init_celery(app)
    register_auth(app)
    register_security_headers(app)
    register_templating(app)


def register_blueprints(app):
    from rewards import health, site, vendor
    from rewards.ops.metrics import register_metrics
    from rewards.accounts.views import bp as accounts_bp
    from rewards.admin import audit_log, customers as admin_customers, referrals as admin_referrals
    from rewards.admin.views import bp as admin_bp
    from rewards.customers.api import blp as customers_api
    from rewards.notifications import receivers  # noqa: F401  (connects notification mail to its events)
    from rewards.notifications.views import bp as notifications_bp
    from rewards.extensions import api, csrf
    from rewards.payouts import webhooks as payout_webhooks
    from rewards.payouts.api import accounts_blp as payout_accounts_api, batches_blp as payout_batches_api
    from rewards.payouts.views import bp as payouts_pages
    from rewards.portal.views import bp as portal_bp
    from rewards.programs.api import balances_blp, programs_blp, rewards_blp
    from rewards.programs.views import bp as programs_pages
    from rewards.referrals.api import blp as referrals_api
    from rewards.referrals.views import bp as referrals_bp
    from rewards.reports.api import blp as reports_api
    from rewards.reports.views import bp as reports_bp
    from rewards.sales.api import blp as sales_api
    from rewards.sales.webhooks import bp as webhooks_bp
    from rewards.tasks import automatic  # noqa: F401  (connects the automatic tasks to their events)
    from rewards.tasks.api import blp as tasks_api
    from rewards.tasks.views import bp as tasks_bp
    from rewards.tax.views import bp as tax_bp

    for blueprint in (health.bp, site.bp, vendor.bp, accounts_bp, portal_bp, admin_bp, admin_referrals.bp,
                      admin_customers.bp, audit_log.bp, tasks_bp, referrals_bp, webhooks_bp,
                      programs_pages, reports_bp, tax_bp, payouts_pages, notifications_bp):
        app.register_blueprint(blueprint)
    register_metrics(app)
    payout_webhooks.register()
    # Stripe signs its webhooks; it cannot carry our CSRF token.
    csrf.exempt(webhooks_bp)
    # The JSON API authenticates with API keys, not cookies, so CSRF tokens do not apply to it.
    for blueprint in (customers_api, referrals_api, sales_api, tasks_api, programs_blp, rewards_blp, balances_blp,
                      reports_api, payout_accounts_api, payout_batches_api):
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint)


def register_errorhandlers(app):
    from rewards.errors import register_errorhandlers as register

    register(app)


def register_commands(app):
    from rewards.accounts import tasks as accounts_tasks  # noqa: F401  (Celery tasks)
    from rewards.cli import register_cli
    from rewards.mail import tasks as mail_tasks  # noqa: F401  (Celery tasks and beat schedule entries)
    from rewards.mail.cli import mail_cli
    from rewards.ledger.cli import ledger_cli
    from rewards.ops.doctor import doctor
    from rewards.payouts import tasks as payout_tasks  # noqa: F401  (the execute-batch Celery task)
    from rewards.payouts.cli import payouts_cli
    from rewards.programs import check  # noqa: F401  (adds the programs' caps to `ledger check`)
    from rewards.sales import tasks  # noqa: F401  (Celery tasks and beat schedule entries)
    from rewards.reports.cli import reports_cli
    from rewards.sales.cli import register_sales_cli
    from rewards.tax.cli import keys_cli

    register_cli(app)
    register_sales_cli(app)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(doctor)
    app.cli.add_command(mail_cli)
    app.cli.add_command(reports_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(payouts_cli)
