"""Customers endpoints of /api/v1."""
from flask.views import MethodView
from flask_login import current_user
from rewards.api import Blueprint

from rewards.accounts.auth import roles_required
from rewards.accounts.onboarding import send_invitation
from rewards.customers import service
from rewards.customers.schemas import CustomerCreateSchema, CustomerSchema
from rewards.extensions import db

blp = Blueprint("customers_api", __name__, url_prefix="/api/v1/customers", description="Customers in the referral program")


@blp.route("")
class Customers(MethodView):
    @roles_required("coordinator")
    @blp.arguments(CustomerCreateSchema)
    @blp.response(201, CustomerSchema)
    def post(self, data):
        """Enrol a customer; 409 if the email is enrolled already."""
        customer = service.enroll_customer(data["email"], data["name"], data.get("phone"))
        if data["invite"]:
            send_invitation(customer)
        db.session.commit()
        return customer


@blp.route("/<int:customer_id>")
class CustomerById(MethodView):
    @roles_required("coordinator", "finance", "customer")
    @blp.response(200, CustomerSchema)
    def get(self, customer_id):
        """One customer; a customer may read only themselves."""
        return service.get_customer(customer_id, current_user)
