"""Stripe events are stored by the webhook request and processed by a worker: payload, request id, processed time.

Revision ID: 0012_ops
Revises: 0011_pages
Create Date: 2026-11-28 09:10:00

"""
from alembic import op
import sqlalchemy as sa

import rewards.dbtypes

# revision identifiers, used by Alembic.
revision = '0012_ops'
down_revision = '0011_pages'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('processed_at', rewards.dbtypes.UTCDateTime(timezone=True), nullable=True))
    # Events stored before this revision were processed in their request.
    op.execute("UPDATE stripe_events SET processed_at = received_at")
    op.create_index('ix_stripe_events_waiting', 'stripe_events', ['received_at'], unique=False,
                    postgresql_where=sa.text('processed_at IS NULL'), sqlite_where=sa.text('processed_at IS NULL'))


def downgrade():
    op.drop_index('ix_stripe_events_waiting', table_name='stripe_events',
                  postgresql_where=sa.text('processed_at IS NULL'), sqlite_where=sa.text('processed_at IS NULL'))
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_column('processed_at')
        batch_op.drop_column('request_id')
        batch_op.drop_column('payload')
