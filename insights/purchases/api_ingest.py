"""POST /api/v1/ingest/orders: the store's systems push batches of orders with an API key."""

import json
import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.urls import path
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from insights.api.authentication import ApiKeyAuthentication, SessionRefusedAuthentication
from insights.api.models import IntegrationClient, Scope
from insights.api.permissions import HasScope
from insights.purchases.services import SOURCE_MAX, ingest_orders

logger = logging.getLogger(__name__)

# Seconds a client should wait before sending a batch again after a 503.
RETRY_AFTER_SECONDS = 5


def max_batch_orders() -> int:
    return getattr(settings, "MAX_INGEST_BATCH_ORDERS", 5000)


# Serializers describe the schema; the service validates (so errors come row by row). The
# schema says what the service takes: text without NUL (which the database cannot store),
# required text with a character that is not blank, and amounts and quantities as decimal
# strings within its limits.
STORABLE = r"[^\x00]"
VISIBLE = r"[^\s\x00]"


def _text(max_length: int, *, blank: bool = False, **kwargs: object) -> serializers.RegexField:
    pattern = rf"^{STORABLE}*$" if blank else rf"^{STORABLE}*{VISIBLE}{STORABLE}*$"
    return serializers.RegexField(pattern, max_length=max_length, **kwargs)


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": r"^\d{1,10}(?:\.\d{1,2})?$"}
)
class MoneyField(serializers.DecimalField):
    """An amount of at least 0 with at most two decimals, below 10^10."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_digits=12, decimal_places=2, min_value=0, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^0*(?:[1-9]\d{0,6}(?:\.\d{1,3})?|0?\.\d{0,2}[1-9])$",
    }
)
class QuantityField(serializers.DecimalField):
    """More than 0, with at most three decimals, below 10^7."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_digits=10, decimal_places=3, **kwargs)


class IngestCustomerSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["loyalty_card", "web", "app"])
    value = _text(64)


class IngestLineSerializer(serializers.Serializer):
    sku = _text(64)
    name = _text(200, blank=True, required=False, help_text="Names the product if the SKU is new.")
    quantity = QuantityField()
    unit_price = MoneyField()
    amount_paid = MoneyField()
    discount = MoneyField(required=False, default=0)
    coupon_discount = MoneyField(required=False, default=0)


class IngestOrderSerializer(serializers.Serializer):
    external_id = _text(64, help_text="The order's id in the source system; unique per batch.")
    customer = IngestCustomerSerializer()
    channel = serializers.ChoiceField(choices=["store", "web", "app"])
    store_id = _text(32, blank=True, required=False, allow_blank=True)
    placed_at = serializers.DateTimeField(help_text="ISO 8601 with an offset or Z.")
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    total_amount = MoneyField(
        required=False, help_text="When given, must equal the sum of the lines' amount_paid."
    )
    lines = serializers.ListField(child=IngestLineSerializer(), min_length=1)


class IngestRequestSerializer(serializers.Serializer):
    source = _text(
        SOURCE_MAX,
        required=False,
        help_text="The system the orders come from; defaults to the API client's name. "
        "Orders are idempotent on (source, external_id).",
    )
    orders = serializers.ListField(child=IngestOrderSerializer(), min_length=1)


class IngestResultSerializer(serializers.Serializer):
    source = serializers.CharField()
    orders_received = serializers.IntegerField()
    created = serializers.IntegerField(help_text="Orders stored now.")
    lines_created = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Orders already stored with this content.")


class RowErrorSerializer(serializers.Serializer):
    row = serializers.CharField(help_text='Where: "orders[2].lines[0].quantity".')
    field = serializers.CharField()
    reason = serializers.CharField()


class IngestErrorsSerializer(serializers.Serializer):
    errors = RowErrorSerializer(many=True)


class IngestUnavailableSerializer(serializers.Serializer):
    detail = serializers.CharField()
    retry = serializers.BooleanField(help_text="Always true: send the same batch again.")
    retry_after = serializers.IntegerField(help_text="Seconds to wait, as in Retry-After.")


def _unavailable() -> Response:
    """503 for a batch the database dropped: nothing of it was stored, so it is safe to resend."""
    body = {
        "detail": "The database was unavailable while storing this batch; nothing of it was "
        "stored. Send the same batch again (orders are idempotent on source and external_id).",
        "retry": True,
        "retry_after": RETRY_AFTER_SECONDS,
    }
    return Response(
        body,
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def max_body_bytes() -> int:
    return getattr(settings, "MAX_INGEST_BODY_BYTES", 64 * 2**20)


def _read_json(request: Request) -> tuple[object, Response | None]:
    """The JSON body, read under this endpoint's own size limit.

    A full batch is several megabytes, above DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), which
    exists for form posts and stays as it is for every other view.
    """
    limit = max_body_bytes()
    raw = request._request.read(limit + 1)
    if len(raw) > limit:
        reason = f"the body is larger than {limit} bytes"
        return None, Response(_errors("body", "body", reason), status=413)
    try:
        return json.loads(raw), None
    except ValueError as exc:
        return None, Response(_errors("body", "body", f"is not JSON: {exc}"), status=400)


def _errors(row: str, field: str, reason: str) -> dict:
    return {"errors": [{"row": row, "field": field, "reason": reason}]}


class IngestOrdersView(APIView):
    """All or nothing: any bad row, or a stored order id with other content, writes nothing."""

    # Api-Key first, so a request without credentials is told to send one (401). Sessions
    # authenticate too, so that a logged-in shopper is refused (403) rather than asked to log in.
    authentication_classes = [ApiKeyAuthentication, SessionRefusedAuthentication]
    # The body is read raw, under its own size limit (`_read_json`); JSON is all it takes.
    parser_classes = [JSONParser]
    permission_classes = [HasScope(Scope.INGEST)]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "ingest"

    @extend_schema(
        operation_id="ingest_orders",
        summary="Push a batch of orders",
        request=IngestRequestSerializer,
        responses={
            201: OpenApiResponse(IngestResultSerializer, description="At least one order stored."),
            200: OpenApiResponse(
                IngestResultSerializer, description="Every order was a duplicate."
            ),
            400: OpenApiResponse(
                IngestErrorsSerializer, description="Every bad row; nothing stored."
            ),
            401: OpenApiResponse(description="No, unknown or revoked API key."),
            403: OpenApiResponse(
                description="The key lacks the ingest scope, or a shopper's login."
            ),
            413: OpenApiResponse(IngestErrorsSerializer, description="More orders than allowed."),
            415: OpenApiResponse(IngestErrorsSerializer, description="The body is not JSON."),
            429: OpenApiResponse(description="Too many batches; retry after Retry-After seconds."),
            503: OpenApiResponse(
                IngestUnavailableSerializer,
                description="The database connection failed mid-batch; nothing was stored. "
                "Send the same batch again after Retry-After seconds.",
            ),
        },
        examples=[
            OpenApiExample(
                "One store order",
                request_only=True,
                value={
                    "source": "till",
                    "orders": [
                        {
                            "external_id": "T-1001",
                            "customer": {"kind": "loyalty_card", "value": "6001234"},
                            "channel": "store",
                            "store_id": "12",
                            "placed_at": "2026-10-01T10:00:00+02:00",
                            "currency": "SEK",
                            "total_amount": "37.50",
                            "lines": [
                                {
                                    "sku": "7310865004703",
                                    "name": "Milk 1 l",
                                    "quantity": "1",
                                    "unit_price": "12.50",
                                    "amount_paid": "12.50",
                                },
                                {
                                    "sku": "7311041013489",
                                    "quantity": "0.5",
                                    "unit_price": "60.00",
                                    "amount_paid": "25.00",
                                    "discount": "5.00",
                                },
                            ],
                        }
                    ],
                },
            )
        ],
        tags=["ingestion"],
    )
    def post(self, request: Request) -> Response:
        if request.content_type.split(";")[0].strip().lower() != "application/json":
            reason = "must be sent as application/json"
            return Response(_errors("body", "body", reason), status=415)
        body, problem = _read_json(request)
        if problem is not None:
            return problem
        if not isinstance(body, dict):
            return Response(_errors("body", "body", "must be a JSON object"), status=400)
        client: IntegrationClient = request.auth
        source = body.get("source", client.name)
        if not isinstance(source, str):
            return Response(_errors("source", "source", "must be a string"), status=400)
        orders = body.get("orders")
        if isinstance(orders, list) and len(orders) > max_batch_orders():
            return Response(
                _errors("orders", "orders", f"at most {max_batch_orders()} orders per request"),
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        try:
            result = ingest_orders(source=source, orders=orders)
        except (OperationalError, InterfaceError):
            # The batch is one transaction: a lost connection (a restart, a failover, a
            # terminated backend) rolled all of it back, so the client may simply resend.
            logger.warning(
                "ingest batch from %s failed on the database; told to retry", source, exc_info=True
            )
            return _unavailable()
        if not result.ok:
            return Response({"errors": [e.as_dict() for e in result.errors]}, status=400)
        payload = {
            "source": source.strip(),
            "orders_received": len(orders),
            "created": result.orders_created,
            "lines_created": result.lines_created,
            "duplicates": result.duplicates,
        }
        code = status.HTTP_201_CREATED if result.orders_created else status.HTTP_200_OK
        return Response(payload, status=code)


urlpatterns = [
    path("ingest/orders", IngestOrdersView.as_view(), name="ingest-orders"),
]
