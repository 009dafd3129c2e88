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
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL")
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET")
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE")
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL")
    DEFAULT_PHONE_REGION = os.environ.get("DEFAULT_PHONE_REGION", "US")

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

    LOGIN_RATE_LIMIT = "10 per minute"
    # The referral link page (/r/<code>): submissions per client address, and per referral code from anywhere.
    LANDING_RATE_LIMIT_PER_CLIENT = os.environ.get("LANDING_RATE_LIMIT_PER_CLIENT", "10 per hour")
    LANDING_RATE_LIMIT_PER_CODE = os.environ.get("LANDING_RATE_LIMIT_PER_CODE", "30 per day")
    # Referrals one customer may make in 24 hours (portal, link and API; staff recording one are not counted).
    REFERRALS_PER_DAY = int(os.environ.get("REFERRALS_PER_DAY", "20"))
    RATELIMIT_HEADERS_ENABLED = True

    API_TITLE = "Refero API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    BOOTSTRAP_SERVE_LOCAL = True
    WTF_CSRF_TIME_LIMIT = None


class ProductionConfig(Config):
    """FLASK_DEBUG off: a missing secret fails at start."""

    def __init__(self):
        self.SECRET_KEY = os.environ.get("SECRET_KEY")
        if not self.SECRET_KEY:
            raise RuntimeError("SECRET_KEY must be set when FLASK_DEBUG is off (see README.md)")


class DevelopmentConfig(Config):
    """FLASK_DEBUG on: local HTTP, a key generated once into instance/."""

    SESSION_COOKIE_SECURE = False
    HSTS = False

    def __init__(self):
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _development_secret_key()


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
    PUBLIC_BASE_URL = None


def config_from_environment():
    """The settings object for this process: development under FLASK_DEBUG, production otherwise."""
    return DevelopmentConfig() if _env_flag("FLASK_DEBUG") else ProductionConfig()
