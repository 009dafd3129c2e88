"""The double-entry ledger: accounts, transactions and immutable entries that sum to zero per currency."""
