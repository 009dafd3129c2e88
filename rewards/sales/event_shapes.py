"""The shape a Stripe event must have before a handler reads it: each field a handler uses, of the right type and
within the bounds of rewards.bounds. A signed event is Stripe's word, but a malformed one (a list where an object
belongs, `amount: "abc"`, `created: 1e15`, a refund without an id) is refused with 400 and recorded, never a 500.
"""
import marshmallow as ma
from marshmallow import ValidationError, fields, validate, validates_schema

from rewards.bounds import MAX_AMOUNT, MAX_TIME, MIN_TIME, TEXT_MESSAGE, has_control_characters


class _Shape(ma.Schema):
    """Stripe objects carry many more fields than a handler reads: those pass unchecked."""

    class Meta:
        unknown = ma.INCLUDE


def _no_control_characters(value: str) -> None:
    if has_control_characters(value):
        raise ValidationError(TEXT_MESSAGE)


def text(max_length: int = 255, **kwargs):
    return fields.String(allow_none=True, validate=[validate.Length(max=max_length), _no_control_characters],
                         **kwargs)


def money(**kwargs):
    return fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=MAX_AMOUNT), **kwargs)


def timestamp(**kwargs):
    return fields.Integer(strict=True, allow_none=True, validate=validate.Range(
        min=int(MIN_TIME.timestamp()), max=int(MAX_TIME.timestamp())), **kwargs)


def currency():
    return fields.String(allow_none=True, validate=validate.Regexp(r"^([A-Za-z]{3})?$"))


def nested(schema, **kwargs):
    return fields.Nested(schema, allow_none=True, **kwargs)


def required_id():
    return fields.String(required=True, validate=[validate.Length(min=1, max=255), _no_control_characters])


class Contact(_Shape):
    email = text(320)
    phone = text(64)


class Metadata(_Shape):
    referral_code = text(500)


class PaymentMethodDetails(_Shape):
    type = text(100)

    @validates_schema
    def method_is_an_object(self, data, **kwargs):
        method = data.get(data.get("type") or "card")
        if method is None:
            return
        if not isinstance(method, dict):
            raise ValidationError("Must be an object.", data.get("type") or "card")
        fingerprint = method.get("fingerprint")
        if fingerprint is not None and (not isinstance(fingerprint, str) or len(fingerprint) > 255
                                        or has_control_characters(fingerprint)):
            raise ValidationError("Not a card fingerprint.", "fingerprint")


class Payment(_Shape):
    id = text()
    amount = money()
    currency = currency()
    created = timestamp()
    payment_intent = text()
    metadata = nested(Metadata)
    client_reference_id = text(500)


class Charge(Payment):
    id = required_id()
    status = text(100)
    billing_details = nested(Contact)
    receipt_email = text(320)
    payment_method_details = nested(PaymentMethodDetails)


class Refund(_Shape):
    id = required_id()
    amount = money()
    status = text(100)


class RefundList(_Shape):
    data = fields.List(fields.Nested(Refund), allow_none=True)


class RefundedCharge(Payment):
    id = required_id()
    amount_refunded = money()
    refunds = nested(RefundList)


class CheckoutSession(Payment):
    id = required_id()
    payment_status = text(100)
    amount_total = money()
    customer_details = nested(Contact)
    customer_email = text(320)
    invoice = text()


class PaidAt(_Shape):
    paid_at = timestamp()


class InvoicePaymentTarget(_Shape):
    payment_intent = fields.Raw(allow_none=True, validate=lambda value: value is None or isinstance(value, (str, dict)))


class InvoicePayment(_Shape):
    payment = nested(InvoicePaymentTarget)


class InvoicePayments(_Shape):
    data = fields.List(fields.Nested(InvoicePayment), allow_none=True)


class Invoice(Payment):
    id = required_id()
    amount_paid = money()
    status_transitions = nested(PaidAt)
    customer_email = text(320)
    customer_phone = text(64)
    # A string, or the PaymentIntent itself when expanded (then the invoice's payments name it).
    payment_intent = fields.Raw(allow_none=True)
    payments = nested(InvoicePayments)

    @validates_schema
    def intent_is_an_id_or_an_object(self, data, **kwargs):
        intent = data.get("payment_intent")
        if intent is not None and not isinstance(intent, (str, dict)):
            raise ValidationError("Must be a PaymentIntent id.", "payment_intent")
        if isinstance(intent, str) and (len(intent) > 255 or has_control_characters(intent)):
            raise ValidationError("Not a PaymentIntent id.", "payment_intent")


class Requirements(_Shape):
    currently_due = fields.List(fields.String(validate=validate.Length(max=200)), allow_none=True)
    past_due = fields.List(fields.String(validate=validate.Length(max=200)), allow_none=True)
    disabled_reason = text(200)


class Capabilities(_Shape):
    transfers = text(50)


class Account(_Shape):
    """A connected account (account.updated): its readiness to receive transfers."""

    id = required_id()
    payouts_enabled = fields.Boolean(allow_none=True)
    details_submitted = fields.Boolean(allow_none=True)
    capabilities = nested(Capabilities)
    requirements = nested(Requirements)


class TransferReversal(_Shape):
    created = timestamp()


class TransferReversals(_Shape):
    data = fields.List(fields.Nested(TransferReversal), allow_none=True)


class Transfer(_Shape):
    """A transfer to a connected account (transfer.reversed); its and its reversals' `created` date the payout."""

    id = required_id()
    amount = money()
    amount_reversed = money()
    created = timestamp()
    transfer_group = text()
    destination = fields.Raw(allow_none=True)  # an account id, or the account itself when expanded
    reversals = nested(TransferReversals)


# The objects of the event types Refero handles (sales: payments and refunds; payouts: accounts and transfers).
OBJECT_SHAPES = {
    "checkout.session.completed": CheckoutSession,
    "invoice.paid": Invoice,
    "charge.succeeded": Charge,
    "charge.refunded": RefundedCharge,
    "account.updated": Account,
    "transfer.reversed": Transfer,
}


class EventData(_Shape):
    object = fields.Dict(required=True)


class Event(_Shape):
    id = required_id()
    type = fields.String(required=True, validate=[validate.Length(min=1, max=100), _no_control_characters])
    created = timestamp()
    account = text()  # the connected account, on events of the Connect endpoint
    data = fields.Nested(EventData, required=True)


def shape_errors(event) -> dict:
    """What is wrong with the event's shape, as {field: messages} (empty when a handler may read it)."""
    if not isinstance(event, dict):
        return {"_schema": ["An event is a JSON object."]}
    errors = Event().validate(event)
    if errors:
        return errors
    shape = OBJECT_SHAPES.get(event["type"])
    if shape is None:
        return {}
    errors = shape().validate(event["data"]["object"])
    return {"data": {"object": errors}} if errors else {}
