"""The ledger's balance check at commit, planned for the transactions it is given (PostgreSQL).

0016's check ran two queries with `LIMIT 1` from a plpgsql function, whose plans PL/pgSQL caches generically.
Expecting to find a wrong leg early, the planner scanned the whole of ledger_entries (a sequential scan, or the
whole transaction_id index in a merge join) to confirm that none was wrong: about 3 ms per commit at 13,000
legs, growing with the ledger. Every commit that posts to the ledger paid it; a sale that qualifies a referral
spent more at its commit than in all its statements.

Now one query checks both rules (legs sum to zero per transaction and currency; each leg in its account's
currency), without LIMIT, run by EXECUTE so that it is planned for the ids at hand: an index lookup for the one
or two transactions of a sale, a hash join for a re-validation's thousands. Measured on the benchmark's
database: a commit posting one `earn` transaction 3.4 -> 0.8-1.3 ms; a check of 6,000 transactions 36-49 ->
18-23 ms.

Revision ID: 0017_ledger_check_per_call
Revises: 0016_ledger_checks_per_statement
Create Date: 2026-11-29 06:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017_ledger_check_per_call'
down_revision = '0016_ledger_checks_per_statement'
branch_labels = None
depends_on = None

PLANNED_PER_CALL = """
CREATE OR REPLACE FUNCTION ledger_transactions_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wrong record;
BEGIN
    EXECUTE $query$
        SELECT e.transaction_id, e.currency, sum(e.amount) AS total,
               min(e.id) FILTER (WHERE a.currency <> e.currency) AS foreign_leg
          FROM ledger_entries AS e JOIN ledger_accounts AS a ON a.id = e.account_id
         WHERE e.transaction_id = ANY ($1)
         GROUP BY e.transaction_id, e.currency
        HAVING sum(e.amount) <> 0 OR bool_or(a.currency <> e.currency)
    $query$ INTO wrong USING NEW.transaction_ids;
    IF wrong.foreign_leg IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % of transaction % is not in its account''s currency',
            wrong.foreign_leg, wrong.transaction_id USING ERRCODE = 'check_violation';
    ELSIF wrong.transaction_id IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance in %: its legs sum to %',
            wrong.transaction_id, wrong.currency, wrong.total USING ERRCODE = 'check_violation';
    END IF;
    DELETE FROM ledger_pending_checks WHERE id = NEW.id;
    RETURN NULL;
END $$
"""

# 0016's function, as it was.
CACHED_PLANS = """
CREATE OR REPLACE FUNCTION ledger_transactions_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wrong record;
BEGIN
    SELECT e.transaction_id, e.currency, sum(e.amount) AS total INTO wrong
      FROM ledger_entries AS e WHERE e.transaction_id = ANY (NEW.transaction_ids)
     GROUP BY e.transaction_id, e.currency HAVING sum(e.amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance in %: its legs sum to %',
            wrong.transaction_id, wrong.currency, wrong.total USING ERRCODE = 'check_violation';
    END IF;
    SELECT e.id, e.transaction_id INTO wrong
      FROM ledger_entries AS e JOIN ledger_accounts AS a ON a.id = e.account_id
     WHERE e.transaction_id = ANY (NEW.transaction_ids) AND a.currency <> e.currency LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % of transaction % is not in its account''s currency',
            wrong.id, wrong.transaction_id USING ERRCODE = 'check_violation';
    END IF;
    DELETE FROM ledger_pending_checks WHERE id = NEW.id;
    RETURN NULL;
END $$
"""


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PLANNED_PER_CALL)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(CACHED_PLANS)
