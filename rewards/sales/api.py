"""Sales endpoints of /api/v1: one sale, its refunds, and CSV imports."""
import io

from flask import current_app, request
from flask.views import MethodView

from rewards.accounts.auth import roles_required
from rewards.api import Blueprint
from rewards.errors import InvalidInput
from rewards.extensions import db
from rewards.sales import service
from rewards.sales.csv_import import import_sales
from rewards.sales.schemas import (ImportResultSchema, RefundCreateSchema, RefundSchema, SaleCreateSchema,
                                   SaleResultSchema)

blp = Blueprint("sales_api", __name__, url_prefix="/api/v1/sales", description="Sales reported by the business")

# Sales ingestion is for integrations (a coordinator's API key) and admins.
INGEST_ROLES = ("coordinator",)
DEFAULT_IMPORT_MAX_BYTES = 8 * 1024**3


@blp.route("")
class Sales(MethodView):
    @roles_required(*INGEST_ROLES)
    @blp.arguments(SaleCreateSchema)
    @blp.response(201, SaleResultSchema)
    @blp.alt_response(200, schema=SaleResultSchema, description="The same sale reported again: nothing new")
    def post(self, data):
        """Record a sale and weigh it against the referrals it may prove (idempotent on external_id)."""
        recorded = service.record_sale(data, "api")
        # The answer is what was just written, read before the commit expires it (no query to read it back).
        body = {"id": recorded.id, "external_id": recorded.external_id, "referral_id": recorded.referral_id,
                "reward": recorded.reward}
        db.session.flush()
        if recorded.reward is not None:
            db.session.expunge(recorded.reward)
        db.session.commit()
        return (body, 201) if recorded.created else (body, 200)


@blp.route("/<path:external_id>/refunds")
class SaleRefunds(MethodView):
    @roles_required(*INGEST_ROLES)
    @blp.arguments(RefundCreateSchema)
    @blp.response(201, RefundSchema)
    @blp.alt_response(200, schema=RefundSchema, description="The same refund reported again: nothing new")
    def post(self, data, external_id):
        """Record a refund of the sale (idempotent on the refund's external_id); kept until the sale lands."""
        refund, created = service.record_refund(external_id, data["external_id"], data["amount"], "api")
        db.session.commit()
        return (refund, 201) if created else (refund, 200)


@blp.route("/import")
class SalesImport(MethodView):
    @roles_required(*INGEST_ROLES)
    @blp.response(200, ImportResultSchema)
    @blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}})
    def post(self):
        """Import a CSV of sales (multipart field `file`) of any size, streamed; per-line errors."""
        # Only this endpoint takes large bodies; Werkzeug spools the upload to a temporary file, not memory.
        request.max_content_length = current_app.config.get("SALES_IMPORT_MAX_BYTES", DEFAULT_IMPORT_MAX_BYTES)
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("Upload the CSV as the multipart field `file`.", "file")
        with io.TextIOWrapper(upload.stream, encoding="utf-8-sig", errors="replace", newline="") as text:
            report = import_sales(text, on_batch=db.session.commit)
        db.session.commit()
        return report
