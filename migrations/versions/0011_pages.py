"""Search anywhere in a name or an email: trigram (pg_trgm) GIN indexes on PostgreSQL.

SQLite has no such index: the same LIKE '%…%' query gives the same results there, by scanning.

Revision ID: 0011_pages
Revises: 0013_finance
Create Date: 2026-11-28 09:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011_pages'
down_revision = '0013_finance'
branch_labels = None
depends_on = None

# (index, table, expression): the expressions the staff searches filter on (rewards/admin/search.py).
TRIGRAM_INDEXES = [
    ("ix_referrals_referee_name_trgm", "referrals", "lower(referee_name)"),
    ("ix_referrals_referee_email_trgm", "referrals", "referee_email"),
    ("ix_customers_name_trgm", "customers", "lower(name)"),
    ("ix_customers_email_trgm", "customers", "email"),
]


def _trigram_schema(bind) -> str:
    """The schema holding pg_trgm, installing it into public when absent (a trusted extension since PG 13)."""
    schema = bind.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'").scalar()
    if schema is None:
        # Into public, not the first schema of search_path: dropping an application schema must not take
        # the extension (and every other schema's trigram indexes) with it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        schema = "public"
    return schema


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = _trigram_schema(bind)
    for name, table, expression in TRIGRAM_INDEXES:
        op.execute(f'CREATE INDEX {name} ON {table} USING gin ({expression} "{schema}".gin_trgm_ops)')


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX {name}")
