"""Programs, rewards and balances endpoints of /api/v1."""
from flask.views import MethodView
from flask_login import current_user

from rewards.accounts.auth import roles_required
from rewards.api import Blueprint
from rewards.api.pagination import paginate
from rewards.customers.service import get_customer
from rewards.errors import NotFound
from rewards.extensions import db
from rewards.ledger.balances import customer_balances
from rewards.programs import service
from rewards.programs.models import Reward
from rewards.programs.schemas import (BalanceSchema, ProgramCreateSchema, ProgramQuerySchema, ProgramSchema,
                                      RewardQuerySchema, RewardSchema, WhatIfResultSchema, WhatIfSchema)
from rewards.programs.whatif import what_if

programs_blp = Blueprint("programs_api", __name__, url_prefix="/api/v1/programs",
                         description="Reward programs: versioned rules per currency")
rewards_blp = Blueprint("rewards_api", __name__, url_prefix="/api/v1/rewards",
                        description="Rewards earned by qualified referrals")
balances_blp = Blueprint("customer_balances_api", __name__, url_prefix="/api/v1/customers",
                         description="Referrers' balances, read from the ledger")


@programs_blp.route("")
class Programs(MethodView):
    @roles_required("coordinator")
    @programs_blp.arguments(ProgramQuerySchema, location="query")
    @programs_blp.response(200, ProgramSchema(many=True))
    @programs_blp.paginate()
    def get(self, args, pagination_parameters):
        """Every program version, by currency, newest version first."""
        return paginate(service.programs_query(args.get("currency")), pagination_parameters)

    @roles_required("coordinator")
    @programs_blp.arguments(ProgramCreateSchema)
    @programs_blp.response(201, ProgramSchema)
    def post(self, data):
        """A new version of the currency's program, in force for sales from effective_from (default now)."""
        program = service.create_program(data, current_user)
        db.session.commit()
        return program


@programs_blp.route("/<int:program_id>")
class ProgramById(MethodView):
    @roles_required("coordinator")
    @programs_blp.response(200, ProgramSchema)
    def get(self, program_id):
        """One program version."""
        return service.get_program(program_id)


@programs_blp.route("/what-if")
class WhatIf(MethodView):
    @roles_required("coordinator")
    @programs_blp.arguments(WhatIfSchema)
    @programs_blp.response(200, WhatIfResultSchema)
    def post(self, data):
        """Run candidate rules over the referred sales of [from, to]; real figures alongside. Changes nothing."""
        service.validate_rules(data)
        return what_if(service.build_program(data), data["from_date"], data["to_date"])


def _visible_referrer_id(referrer_id: int | None) -> int | None:
    """A customer sees only their own rewards: another customer's id is 404."""
    if current_user.role != "customer":
        return referrer_id
    own = current_user.customer
    if own is None or (referrer_id is not None and referrer_id != own.id):
        raise NotFound("No such customer.", "referrer_id")
    return own.id


@rewards_blp.route("")
class Rewards(MethodView):
    @roles_required("coordinator", "finance", "customer")
    @rewards_blp.arguments(RewardQuerySchema, location="query")
    @rewards_blp.response(200, RewardSchema(many=True))
    @rewards_blp.paginate()
    def get(self, args, pagination_parameters):
        """Rewards, newest first; `payable` means held past payable_at."""
        query = service.rewards_query(_visible_referrer_id(args.get("referrer_id")), args.get("status"))
        return paginate(query, pagination_parameters)


@rewards_blp.route("/<int:reward_id>")
class RewardById(MethodView):
    @roles_required("coordinator", "finance", "customer")
    @rewards_blp.response(200, RewardSchema)
    def get(self, reward_id):
        """One reward; another customer's is 404."""
        reward = db.session.get(Reward, reward_id)
        if reward is None or (current_user.role == "customer" and
                              (current_user.customer is None or reward.referrer_id != current_user.customer.id)):
            raise NotFound("No such reward.")
        return reward


@balances_blp.route("/<int:customer_id>/balance")
class CustomerBalance(MethodView):
    @roles_required("coordinator", "finance", "customer")
    @balances_blp.response(200, BalanceSchema(many=True))
    def get(self, customer_id):
        """Per currency: held, payable (out of hold), paid; also batched (in transit), earned, reversed and owed."""
        customer = get_customer(customer_id, current_user)
        return customer_balances(customer.id)
