"""Imports every model, so Alembic and the app see the whole schema."""
from rewards.accounts.models import ApiKey, User  # noqa: F401
from rewards.audit.models import AuditEvent  # noqa: F401
from rewards.customers.models import Customer  # noqa: F401
from rewards.ledger.models import Account, LedgerEntry, LedgerTransaction  # noqa: F401
from rewards.programs.models import Program, ProgramTier, Reward  # noqa: F401
from rewards.referrals.models import Referral  # noqa: F401
from rewards.sales.models import Decision, Refund, Sale, StripeEvent  # noqa: F401
from rewards.admin.models import ReferralNote  # noqa: F401
from rewards.tasks.models import Task, TaskAutomation  # noqa: F401
from rewards.tax.models import TaxDetails  # noqa: F401
from rewards.payouts.models import PayoutAccount, PayoutBatch, PayoutItem, PayoutReversal  # noqa: F401
from rewards.reports.models import ReconciliationRun  # noqa: F401
