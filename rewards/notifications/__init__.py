"""Mail that tells people what happened to their referrals, rewards and payout batches, and their choice of it."""
