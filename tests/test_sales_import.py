"""POST /api/v1/sales/import and `flask sales import`: streamed CSV, per-line errors, duplicates, weighing."""
import io
from datetime import timedelta

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.sales.models import Sale
from tests import factories

HEADER = "external_id,email,amount,currency,occurred_at,referral_code,phone\n"
BROKEN = {
    1000: "bad-amount,x1@example.com,12.50,usd,2026-03-01T10:00:00Z,,\n",
    2000: "bad-email,not-an-email,100,usd,2026-03-01T10:00:00Z,,\n",
    3000: "bad-time,x3@example.com,100,usd,yesterday,,\n",
    4000: "short,x4@example.com\n",
    5000: "s-00000001,x5@example.com,999,usd,2026-03-01T10:00:00Z,,\n",  # same id, other content
}


def big_csv(rows=50_000, start=None) -> bytes:
    start = start or utcnow()
    lines = [HEADER]
    for i in range(rows):
        line_number = i + 2
        if line_number in BROKEN:
            lines.append(BROKEN[line_number])
        else:
            when = (start + timedelta(seconds=i)).isoformat()
            lines.append(f"s-{i:08d},buyer{i}@example.com,{1000 + i % 5000},usd,{when},,\n")
    return "".join(lines).encode()


def upload(api, data: bytes):
    """A multipart body built by hand (the test client would spool a large one to a file it never closes)."""
    boundary = "refero-boundary-7d1"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sales.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return api.post("/api/v1/sales/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_a_50000_row_import_reports_broken_lines_and_weighs_the_sales(api_as):
    factories.program(min_sale_amount=1000)
    referral = factories.referral(email="buyer7@example.com", created_at=utcnow() - timedelta(days=1))
    data = big_csv()
    assert len(data) > 2 * 1024 * 1024  # above the app's default body limit
    api = api_as("coordinator")
    r = upload(api, data)
    assert r.status_code == 200, r.json
    assert r.json["created"] == 50_000 - 5 and r.json["duplicates"] == 0
    assert r.json["errors"] == [
        {"line": 1000, "message": "amount: Amount must be a whole number of minor units (cents), e.g. 1999."},
        {"line": 2000, "message": r.json["errors"][1]["message"]},
        {"line": 3000, "message": "occurred_at: Time must be ISO 8601 with an offset, e.g. 2026-03-01T10:00:00Z."},
        {"line": 4000, "message": "Expected at least 7 fields, found 2."},
        {"line": 5000, "message": "external_id: A sale with this external_id was already recorded with "
                                  "different content."},
    ]
    assert r.json["errors"][1]["message"].startswith("email: Not a valid email address")
    assert db.session.scalar(db.select(db.func.count()).select_from(Sale)) == 50_000 - 5
    assert api.get(f"/api/v1/referrals/{referral.id}").json["status"] == "qualified"
    # The same file again: every good row is a duplicate, nothing new.
    again = upload(api, data)
    assert again.json["created"] == 0 and again.json["duplicates"] == 50_000 - 5


def test_import_needs_the_header_and_the_file(api_as):
    api = api_as("coordinator")
    r = upload(api, b"id,mail\n1,a@example.com\n")
    assert r.status_code == 422 and "missing: external_id, email, amount" in r.json["message"]
    assert api.post("/api/v1/sales/import", data={}, content_type="multipart/form-data").status_code == 422
    assert api_as("finance").post("/api/v1/sales/import", data={"file": (io.BytesIO(b""), "x.csv")},
                                  content_type="multipart/form-data").status_code == 403


def test_other_endpoints_keep_the_small_body_limit(api_as):
    r = api_as("coordinator").post("/api/v1/sales", data=b"x" * (3 * 1024 * 1024),
                                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_cli_import_with_progress_and_weighing(runner, tmp_path, app):
    factories.program(min_sale_amount=1000)
    referral = factories.referral(email="buyer3@example.com", created_at=utcnow() - timedelta(days=1))
    path = tmp_path / "sales.csv"
    path.write_bytes(HEADER.encode() + b"".join(
        f"c-{i},buyer{i}@example.com,5000,usd,{utcnow().isoformat()},,\n".encode() for i in range(10))
        + b"broken,nobody,1,usd,2026-01-01T00:00:00Z,,\n")
    result = runner.invoke(args=["sales", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Created 10, duplicates 0, errors 1" in result.output
    assert "line 12: email: Not a valid email address" in result.output
    assert "qualified 1" in result.output
    db.session.refresh(referral)
    assert referral.status == "qualified"
    missing = runner.invoke(args=["sales", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code != 0
