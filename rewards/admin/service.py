"""Staff actions outside the board: notes on referrals."""
from rewards import audit
from rewards.admin.models import ReferralNote
from rewards.errors import InvalidInput
from rewards.extensions import db
from rewards.referrals.models import Referral


def add_note(referral: Referral, body: str, author) -> ReferralNote:
    """Add a note to a referral (not committed)."""
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write something in the note.", "body")
    if len(body) > 5000:
        raise InvalidInput("A note is at most 5000 characters.", "body")
    note = ReferralNote(referral_id=referral.id, body=body, author_id=getattr(author, "id", None))
    db.session.add(note)
    db.session.flush()
    # Recorded against the referral, so the note shows in its history.
    audit.record("referral.note_added", referral, {"note_id": note.id})
    return note


def notes_of(referral_id: int) -> list[ReferralNote]:
    return db.session.scalars(db.select(ReferralNote).where(ReferralNote.referral_id == referral_id)
                              .order_by(ReferralNote.created_at.desc(), ReferralNote.id.desc())).all()

