"""Domain events other packages react to (blinker signals): emit after the change is flushed, in the same transaction.

- `referral_created.send(referral)`: a referral was recorded (sender: the Referral, with its id).
- `referral_needs_review.send(referral, reason=None)`: a referral moved to `review`
  (sender: the Referral; `reason`: an optional sentence saying which check flagged it).
- `referral_decided.send(referral, outcome=...)`: a coordinator approved (`qualified`) or rejected
  (`rejected`) a referral (sender: the Referral).

Receivers add rows to the session and never commit: the request, CLI or job that emitted commits.
"""
from blinker import Namespace

_signals = Namespace()

referral_created = _signals.signal("referral-created")
referral_needs_review = _signals.signal("referral-needs-review")
referral_decided = _signals.signal("referral-decided")
