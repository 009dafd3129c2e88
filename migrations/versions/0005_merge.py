"""Join the sales, ledger and board branches

Revision ID: 0005_merge
Revises: 0002_sales, 0003_ledger, 0004_board
Create Date: 2026-11-28 03:27:39.479247

"""
from alembic import op
import sqlalchemy as sa

import rewards.dbtypes


# revision identifiers, used by Alembic.
revision = '0005_merge'
down_revision = ('0002_sales', '0003_ledger', '0004_board')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
