"""Domain events that send notification mail (connected when the app starts)."""
from rewards import events, jobs
from rewards.notifications import service
from rewards.notifications.tasks import rewards_granted_task


@events.referral_created.connect
def _referral_created(referral, **_):
    if referral.source == "link":
        service.notify_referral_received(referral)
    service.notify_referee_welcome(referral)


@events.rewards_granted.connect
def _rewards_granted(_sender, reward_ids=(), **__):
    # After the commit and off the request: a re-validation may grant thousands of rewards at once.
    if reward_ids:
        jobs.after_commit(rewards_granted_task, list(reward_ids))


@events.reward_taken_back.connect
def _reward_taken_back(reward, amount=0, **_):
    if amount > 0:
        service.notify_reward_taken_back(reward, amount)
