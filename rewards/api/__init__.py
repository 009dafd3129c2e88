"""The JSON API's shared pieces: our Blueprint defaults."""
import flask_smorest


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint with the contract's paging: page_size 50 by default, 500 at most."""

    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 50, "max_page_size": 500}
