"""Sharing a referral link: plain share links (no third-party scripts) and a QR code drawn by segno as SVG."""
import io
from urllib.parse import quote, urlencode

import segno


def share_links(link: str, business: str) -> list[dict]:
    """(label, href) of each way to share: email, SMS, WhatsApp and X; each opens the person's own app."""
    message = f"I shop at {business} and think you would like it too. Leave your details here: {link}"
    subject = f"Try {business}"
    return [
        {"label": "Email", "name": "email", "href": f"mailto:?subject={quote(subject)}&body={quote(message)}"},
        {"label": "SMS", "name": "sms", "href": f"sms:?&body={quote(message)}"},
        {"label": "WhatsApp", "name": "whatsapp", "href": "https://wa.me/?" + urlencode({"text": message})},
        {"label": "X", "name": "x", "href": "https://x.com/intent/post?" + urlencode(
            {"text": f"I shop at {business} and think you would like it too:", "url": link})},
    ]


def qr_svg(link: str) -> bytes:
    """The link as a QR code, an SVG that scales to any size."""
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="svg", scale=1, border=2, omitsize=True,
                                     title="QR code of your referral link", svgclass="qr-code", xmldecl=False)
    return buffer.getvalue()
