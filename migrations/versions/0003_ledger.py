"""Ledger (accounts, transactions, entries; balanced per currency), program versions and optional rules.

On PostgreSQL a deferred constraint trigger refuses any transaction whose legs do not sum to zero per
currency at commit, and entries and transactions cannot be updated or deleted.

Revision ID: 0003_ledger
Revises: 0001_foundation
Create Date: 2026-11-28 02:33:10.473922

"""
from alembic import op
import sqlalchemy as sa

import rewards.dbtypes


# revision identifiers, used by Alembic.
revision = '0003_ledger'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None

# Checked at commit (deferred), so a transaction's legs may be inserted one by one.
POSTGRES_LEDGER_GUARDS = [
    """
    CREATE FUNCTION ledger_transaction_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        unbalanced record;
    BEGIN
        SELECT e.currency, sum(e.amount) AS total INTO unbalanced
          FROM ledger_entries AS e WHERE e.transaction_id = NEW.transaction_id
         GROUP BY e.currency HAVING sum(e.amount) <> 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger transaction % does not balance in %: its legs sum to %',
                NEW.transaction_id, unbalanced.currency, unbalanced.total USING ERRCODE = 'check_violation';
        END IF;
        IF EXISTS (SELECT 1 FROM ledger_accounts AS a WHERE a.id = NEW.account_id AND a.currency <> NEW.currency) THEN
            RAISE EXCEPTION 'ledger entry % of transaction % is not in its account''s currency',
                NEW.id, NEW.transaction_id USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_entries_balance AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_must_balance()
    """,
    """
    CREATE FUNCTION ledger_rows_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% rows are never changed or deleted: post a reversing transaction', TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END $$
    """,
    "CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries "
    "FOR EACH ROW EXECUTE FUNCTION ledger_rows_are_immutable()",
    "CREATE TRIGGER ledger_transactions_immutable BEFORE UPDATE OR DELETE ON ledger_transactions "
    "FOR EACH ROW EXECUTE FUNCTION ledger_rows_are_immutable()",
]
POSTGRES_LEDGER_GUARDS_DROP = [
    "DROP TRIGGER ledger_transactions_immutable ON ledger_transactions",
    "DROP TRIGGER ledger_entries_immutable ON ledger_entries",
    "DROP FUNCTION ledger_rows_are_immutable()",
    "DROP TRIGGER ledger_entries_balance ON ledger_entries",
    "DROP FUNCTION ledger_transaction_must_balance()",
]


def upgrade():
    op.create_table('ledger_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', rewards.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_ledger_accounts_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('key', name=op.f('uq_ledger_accounts_key'))
    )
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_accounts_customer_id'), ['customer_id'], unique=False)

    op.create_table('ledger_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('memo', sa.Text(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', rewards.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_ledger_transactions_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transactions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_ledger_transactions_idempotency_key'))
    )
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_transactions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transactions_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transactions_kind'), ['kind'], unique=False)

    op.create_table('program_tiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('from_referral', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=True),
    sa.Column('percent', sa.Numeric(precision=7, scale=4), nullable=True),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_program_tiers_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_program_tiers')),
    sa.UniqueConstraint('program_id', 'from_referral', name='uq_program_tiers_program_from')
    )
    with op.batch_alter_table('program_tiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_program_tiers_program_id'), ['program_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_ledger_entries_amount_not_zero')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_entries_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['reward_id'], ['rewards.id'], name=op.f('fk_ledger_entries_reward_id_rewards')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_ledger_entries_transaction_id_ledger_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_reward_id'), ['reward_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_transaction_id'), ['transaction_id'], unique=False)

    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('yearly_cap_amount', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('referee_coupon_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('referee_credit_amount', sa.Integer(), nullable=True))
    # Existing programs become versions 1, 2, … of their currency, in the order they were created.
    op.execute("UPDATE programs SET version = (SELECT count(*) FROM programs AS p2 "
               "WHERE p2.currency = programs.currency AND p2.id <= programs.id)")
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.alter_column('version', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('uq_programs_currency_version', ['currency', 'version'])

    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('granted_amount', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('clawback_amount', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('tier_from_referral', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('referee_coupon_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('referee_credit_amount', sa.Integer(), nullable=True))
    op.execute("UPDATE rewards SET granted_amount = amount")
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.alter_column('granted_amount', existing_type=sa.Integer(), nullable=False)
        batch_op.create_check_constraint('clawback_within_amount',
                                         'clawback_amount >= 0 AND clawback_amount <= amount')

    if op.get_bind().dialect.name == 'postgresql':
        for statement in POSTGRES_LEDGER_GUARDS:
            op.execute(statement)



def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for statement in POSTGRES_LEDGER_GUARDS_DROP:
            op.execute(statement)
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.drop_constraint('clawback_within_amount', type_='check')
        batch_op.drop_column('referee_credit_amount')
        batch_op.drop_column('referee_coupon_code')
        batch_op.drop_column('tier_from_referral')
        batch_op.drop_column('clawback_amount')
        batch_op.drop_column('granted_amount')

    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_constraint('uq_programs_currency_version', type_='unique')
        batch_op.drop_column('referee_credit_amount')
        batch_op.drop_column('referee_coupon_code')
        batch_op.drop_column('yearly_cap_amount')
        batch_op.drop_column('version')

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_reward_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_account_id'))

    op.drop_table('ledger_entries')
    with op.batch_alter_table('program_tiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_program_tiers_program_id'))

    op.drop_table('program_tiers')
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_kind'))
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_customer_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_created_at'))

    op.drop_table('ledger_transactions')
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_accounts_customer_id'))

    op.drop_table('ledger_accounts')
