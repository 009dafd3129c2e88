"""The JSON API's shared pieces: our Blueprint defaults."""
import flask_smorest
from flask_smorest.utils import resolve_schema_instance
from marshmallow import fields, validate

from rewards.bounds import MAX_PAGE


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint with the contract's paging: page_size 50 by default, 500 at most, and page numbers
    up to MAX_PAGE (a larger one is 422, never an offset the database cannot hold)."""

    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 50, "max_page_size": 500}

    def arguments(self, schema, *args, **kwargs):
        """A schema class becomes one instance here, as flask-smorest does for responses: given the class, webargs
        would build a new schema (its fields copied) on every request. Loading keeps no state on the schema."""
        return super().arguments(resolve_schema_instance(schema), *args, **kwargs)

    def paginate(self, pager=None, **kwargs):
        decorate = super().paginate(pager, **kwargs)

        def decorator(func):
            wrapper = decorate(func)
            # The parameters schema is a class made for this one endpoint: bound its page number, for parsing and
            # for the OpenAPI document alike.
            schema = wrapper._apidoc["pagination"]["parameters"]["schema"]
            page = schema._declared_fields["page"]
            schema._declared_fields["page"] = fields.Integer(
                load_default=page.load_default, validate=validate.Range(min=1, max=MAX_PAGE))
            return wrapper

        return decorator

    def _document_pagination_metadata(self, spec, resp_doc):
        """X-Pagination is JSON text: declared as such, so a client (or a fuzzer) reads it as one object."""
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "Pagination metadata, a JSON object: total, total_pages, first_page, last_page, page, "
                           "previous_page, next_page (the last five only when there are items).",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PaginationMetadata"}}},
        }
