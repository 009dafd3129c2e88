"""Settings read from the environment (and a `.env` file), one class per way of running."""
import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"
load_dotenv(BASE_DIR / ".env")


def _env_flag(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _development_encryption_key():
    """A Fernet key generated once into instance/, so tax ids typed in development stay readable."""
    from cryptography.fernet import Fernet

    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "data_encryption_key"
    if not path.exists():
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


def _check_tax_details(config):
    """Tax details need a key; a malformed key fails at start, naming its position only."""
    from rewards.encryption import parse_keys

    keys = parse_keys(config.DATA_ENCRYPTION_KEYS)
    if config.TAX_DETAILS_ENABLED and not keys:
        raise RuntimeError("TAX_DETAILS_ENABLED is on but DATA_ENCRYPTION_KEYS is not set: tax ids cannot be "
                           "stored without a key (see README.md, Finance)")


def _development_secret_key():
    """A key generated once into instance/, so development sessions survive restarts."""
    INSTANCE_DIR.mkdir(exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    """Settings shared by every environment."""

    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'refero.db'}"
    # A pooled connection is checked before use: by SELECT 1 on SQLite, without a round trip on PostgreSQL (dbpool).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL")
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET")
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE")
    STRIPE_CONNECT_WEBHOOK_SECRET = os.environ.get("STRIPE_CONNECT_WEBHOOK_SECRET")
    # Payouts: requests to Stripe per second (default: Stripe's limit for the key's mode, 25 test, 100 live),
    # transfers in flight at once, seconds before a call is given up, and the default batch minimum (minor units).
    STRIPE_MAX_REQUESTS_PER_SECOND = float(os.environ.get("STRIPE_MAX_REQUESTS_PER_SECOND") or 0) or None
    STRIPE_TIMEOUT_SECONDS = float(os.environ.get("STRIPE_TIMEOUT_SECONDS", "30"))
    PAYOUT_CONCURRENCY = int(os.environ.get("PAYOUT_CONCURRENCY", "8"))
    PAYOUT_MINIMUM_AMOUNT = int(os.environ.get("PAYOUT_MINIMUM_AMOUNT", "1000"))
    # An executor's claim on an item lapses after this long (a killed executor's items are then taken over).
    PAYOUT_LEASE_SECONDS = float(os.environ.get("PAYOUT_LEASE_SECONDS", "120"))
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL")
    DEFAULT_PHONE_REGION = os.environ.get("DEFAULT_PHONE_REGION", "US")
    # The business's name as customers and their friends read it (portal, referral link page, share messages).
    BUSINESS_NAME = os.environ.get("BUSINESS_NAME", "Refero")
    # /metrics answers loopback clients, or anyone presenting this bearer token.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN")
    # A task taken by a worker that died is handed to another after this many seconds (longer than any task).
    CELERY_VISIBILITY_TIMEOUT = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "900"))
    # "json": one JSON object per line (production); "text": plain lines (development, tests).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    # Tax ids are encrypted under these keys (comma-separated Fernet keys; the first encrypts, all decrypt).
    DATA_ENCRYPTION_KEYS = os.environ.get("DATA_ENCRYPTION_KEYS")
    # Customers may enter tax details (legal name, country, tax id); on by default when there is a key.
    TAX_DETAILS_ENABLED = _env_flag("TAX_DETAILS_ENABLED", default=bool(os.environ.get("DATA_ENCRYPTION_KEYS")))
    # Who needs a tax form: paid in a calendar year at or above this, per currency, in currency units.
    TAX_REPORTING_THRESHOLDS = os.environ.get("TAX_REPORTING_THRESHOLDS", "usd:600")

    # Bodies above this size are refused with 413; the CSV import raises it for itself.
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 1024 * 1024

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "30"))
    REMEMBER_COOKIE_HTTPONLY = True
    HSTS = True
    # How many reverse proxies (TLS terminators) stand in front of gunicorn; their X-Forwarded-* are trusted.
    TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

    # Mail (Flask-Mail's names). Without MAIL_SERVER each message is written to MAIL_OUTBOX_DIR as an .eml file.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = int(os.environ.get("MAIL_PORT") or "25")
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _env_flag("MAIL_USE_TLS")
    MAIL_USE_SSL = _env_flag("MAIL_USE_SSL")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER") or None
    MAIL_SUPPRESS_SEND = False
    MAIL_OUTBOX_DIR = os.environ.get("MAIL_OUTBOX_DIR") or str(INSTANCE_DIR / "outbox")
    # Who is sending: shown in mail and on pages.
    BUSINESS_NAME = os.environ.get("BUSINESS_NAME") or "Refero"
    SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL") or None

    LOGIN_RATE_LIMIT = "10 per minute"
    # Failed logins per account from clients that never logged into it: short, so an attacker cannot lock anyone out for long.
    LOGIN_ACCOUNT_RATE_LIMIT = "5 per 5 minutes"
    SIGNUP_RATE_LIMIT = "10 per 10 minutes"
    SIGNUP_ADDRESS_RATE_LIMIT = "3 per hour"
    RESET_RATE_LIMIT = "10 per 10 minutes"
    RESET_ADDRESS_RATE_LIMIT = "3 per hour"
    PASSWORD_CHANGE_RATE_LIMIT = "5 per 10 minutes"
    # The referral link page (/r/<code>): submissions per client address, and per referral code from anywhere.
    LANDING_RATE_LIMIT_PER_CLIENT = os.environ.get("LANDING_RATE_LIMIT_PER_CLIENT", "10 per hour")
    LANDING_RATE_LIMIT_PER_CODE = os.environ.get("LANDING_RATE_LIMIT_PER_CODE", "30 per day")
    # Referrals one customer may make in 24 hours (portal, link and API; staff recording one are not counted).
    REFERRALS_PER_DAY = int(os.environ.get("REFERRALS_PER_DAY", "20"))
    RATELIMIT_HEADERS_ENABLED = True
    # Said explicitly: Flask-Limiter's one limiter otherwise keeps whatever the last app it served was told.
    RATELIMIT_ENABLED = True

    API_TITLE = "Refero API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    BOOTSTRAP_SERVE_LOCAL = True
    WTF_CSRF_TIME_LIMIT = None


class MissingSettings(RuntimeError):
    """A production process lacks settings it cannot run without."""


def missing_production_settings(environ=os.environ) -> list[str]:
    """Settings a production process cannot run without, by name, that the environment lacks.

    FLASK_DEBUG off needs SECRET_KEY and DATABASE_URL, and STRIPE_WEBHOOK_SECRET once STRIPE_SECRET_KEY
    is set; REFERO_ENV=production (a real deployment, see docs/DEPLOY.md) needs PUBLIC_BASE_URL as well,
    and so does MAIL_SERVER: links in mail are built from it, never from a request's Host header.
    """
    required = ["SECRET_KEY", "DATABASE_URL"]
    if environ.get("STRIPE_SECRET_KEY"):
        required.append("STRIPE_WEBHOOK_SECRET")
    if (environ.get("REFERO_ENV", "").strip().lower() == "production"
            or (environ.get("MAIL_SERVER") or "").strip()):
        required.append("PUBLIC_BASE_URL")
    return [name for name in required if not (environ.get(name) or "").strip()]


class ProductionConfig(Config):
    """FLASK_DEBUG off: a missing secret or setting fails at start."""

    def __init__(self):
        missing = missing_production_settings()
        if missing:
            raise MissingSettings("; ".join(f"{name} must be set" for name in missing)
                               + " when FLASK_DEBUG is off (see docs/DEPLOY.md)")
        self.SECRET_KEY = os.environ["SECRET_KEY"]
        _check_tax_details(self)


class DevelopmentConfig(Config):
    """FLASK_DEBUG on: local HTTP, a key generated once into instance/."""

    SESSION_COOKIE_SECURE = False
    HSTS = False
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")

    def __init__(self):
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _development_secret_key()
        self.DATA_ENCRYPTION_KEYS = os.environ.get("DATA_ENCRYPTION_KEYS") or _development_encryption_key()
        self.TAX_DETAILS_ENABLED = _env_flag("TAX_DETAILS_ENABLED", default=True)
        _check_tax_details(self)


class TestingConfig(Config):
    """The test suite: its own database (TEST_DATABASE_URL), fixed key, no HTTPS."""

    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    SESSION_COOKIE_SECURE = False
    HSTS = False
    REDIS_URL = None
    STRIPE_SECRET_KEY = None
    STRIPE_WEBHOOK_SECRET = None
    STRIPE_API_BASE = None
    STRIPE_CONNECT_WEBHOOK_SECRET = None
    STRIPE_MAX_REQUESTS_PER_SECOND = None
    PUBLIC_BASE_URL = None
    METRICS_TOKEN = None
    LOG_FORMAT = "text"
    MAIL_SERVER = None
    MAIL_DEFAULT_SENDER = None
    BUSINESS_NAME = "Refero"
    SUPPORT_EMAIL = None
    # A fixed key of the test suite only (32 bytes, url-safe base64): never used anywhere else.
    DATA_ENCRYPTION_KEYS = "cmVmZXJvLXRlc3Qtc3VpdGUtb25seS1rZXktMzJieXQ="
    TAX_DETAILS_ENABLED = True


def config_from_environment():
    """The settings object for this process: development under FLASK_DEBUG, production otherwise."""
    return DevelopmentConfig() if _env_flag("FLASK_DEBUG") else ProductionConfig()
