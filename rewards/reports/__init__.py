"""Finance's reports: CSV exports read from the ledger, yearly statements, tax details and their threshold."""
