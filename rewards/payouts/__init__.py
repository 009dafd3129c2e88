"""Paying referrers: payout accounts on Stripe Connect, four-eyes payout batches, transfers made exactly once."""
