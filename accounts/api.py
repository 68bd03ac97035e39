"""Endpoints for the store's systems: link a customer to a Kvitto login (scope "link") and
read a customer's consents so other systems can honour them (scope "consents")."""

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.consent import is_allowed, outdated_grants
from accounts.models import ConsentEvent, CustomerIdentifier, PurposeText
from accounts.purposes import PURPOSES
from insights.api.authentication import ApiKeyAuthentication, SessionRefusedAuthentication
from insights.api.models import ConsentRead, Scope
from insights.api.permissions import HasScope


class CustomerRefSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=CustomerIdentifier.Kind.choices,
        help_text="How the channel knows the customer.",
    )
    # The pattern puts "not only spaces" into the schema too: a value of spaces is trimmed
    # to nothing and refused, so the schema must not promise that it is accepted.
    value = serializers.RegexField(r"\S", max_length=64, help_text="The card number or channel id.")


class LinkCodeRequestSerializer(serializers.Serializer):
    customer = CustomerRefSerializer()


class LinkCodeResponseSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Print this for the shopper; it is not stored in clear.")
    expires_at = serializers.DateTimeField()
    customer_created = serializers.BooleanField(
        help_text="True when the customer was unknown and has just been created."
    )


class LinkRequestSerializer(serializers.Serializer):
    customer = CustomerRefSerializer()
    email = serializers.EmailField(help_text="The e-mail address of the shopper's Kvitto login.")


class LinkResponseSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    linked_at = serializers.DateTimeField()
    changed = serializers.BooleanField(help_text="False when the two were already linked.")


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


# Api-Key first, so a request without credentials is asked for a key (401); sessions next, so
# a logged-in shopper is refused (403) like any caller without the scope, as on ingestion.
STORE_AUTHENTICATION = [ApiKeyAuthentication, SessionRefusedAuthentication]


class _LinkScopeView(APIView):
    authentication_classes = STORE_AUTHENTICATION
    permission_classes = [HasScope(Scope.LINK)]
    # The customer is a nested object, which a form body cannot carry.
    parser_classes = [JSONParser]


class LinkCodeCreateView(_LinkScopeView):
    @extend_schema(
        operation_id="customers_link_code_create",
        summary="Issue a one-time link code for a customer",
        description=(
            "For a till or customer service desk: returns a code the shopper types on "
            "Kvitto's 'Link your store card' page. Valid for 14 days, single use. "
            "The customer is created when the identifier is unknown."
        ),
        request=LinkCodeRequestSerializer,
        responses={201: LinkCodeResponseSerializer},
        examples=[
            OpenApiExample(
                "Loyalty card",
                value={"customer": {"kind": "loyalty_card", "value": "6001234567"}},
                request_only=True,
            )
        ],
        tags=["customers"],
    )
    def post(self, request: Request) -> Response:
        serializer = LinkCodeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ref = serializer.validated_data["customer"]
        customer, created = services.get_or_create_customer(kind=ref["kind"], value=ref["value"])
        issued = services.create_link_code(customer=customer)
        body = LinkCodeResponseSerializer(
            {"code": issued.code, "expires_at": issued.expires_at, "customer_created": created}
        ).data
        return Response(body, status=status.HTTP_201_CREATED)


class LinkView(_LinkScopeView):
    @extend_schema(
        operation_id="customers_link",
        summary="Link a customer to a shopper's login after verifying them in person",
        description=(
            "Only for a store system that has verified the shopper's identity (e.g. at the "
            "service desk). Refused with 409 when the customer belongs to another login or "
            "the login to another customer; 404 when no login has the e-mail address."
        ),
        request=LinkRequestSerializer,
        responses={
            200: LinkResponseSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No login with that e-mail."),
            409: OpenApiResponse(ErrorSerializer, description="Linked elsewhere already."),
        },
        tags=["customers"],
    )
    def post(self, request: Request) -> Response:
        serializer = LinkRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ref = serializer.validated_data["customer"]
        try:
            customer, changed = services.link_customer_directly(
                kind=ref["kind"], value=ref["value"], email=serializer.validated_data["email"]
            )
        except services.LinkError as exc:
            code = (
                status.HTTP_404_NOT_FOUND
                if exc.reason == services.LinkError.NO_LOGIN
                else status.HTTP_409_CONFLICT
            )
            return Response({"code": exc.reason, "detail": str(exc.message)}, status=code)
        body = LinkResponseSerializer(
            {"customer_id": customer.pk, "linked_at": customer.linked_at, "changed": changed}
        ).data
        return Response(body)


class PurposeConsentSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=list(PURPOSES), help_text="The purpose's key.")
    title = serializers.CharField()
    lawful_basis = serializers.ChoiceField(
        choices=["consent", "contract"],
        help_text='"contract" (GDPR art. 6(1)(b)) for the necessary purpose, else "consent".',
    )
    granted = serializers.BooleanField(
        help_text="The shopper's latest decision: true when they switched the purpose on."
    )
    allowed = serializers.BooleanField(
        help_text=(
            "Whether the purpose may be processed now. Differs from `granted` only while a "
            "materially changed text awaits the shopper's answer and the purpose pauses "
            "until then (e-mail, model improvement). Honour this field."
        )
    )
    outdated = serializers.BooleanField(
        help_text="Granted under a text that a later material version superseded."
    )
    text_version = serializers.IntegerField(
        allow_null=True, help_text="The text version of the latest decision; null if none."
    )
    current_version = serializers.IntegerField(
        allow_null=True, help_text="The text version published now."
    )
    decided_at = serializers.DateTimeField(allow_null=True)
    method = serializers.CharField(allow_null=True, help_text="How the decision was made.")


class CustomerConsentsSerializer(serializers.Serializer):
    customer = CustomerRefSerializer()
    has_login = serializers.BooleanField(
        help_text="False when no Kvitto login is linked: then nothing optional is granted."
    )
    as_of = serializers.DateTimeField()
    consents = PurposeConsentSerializer(many=True)


CUSTOMER_REF_HELP = (
    "The customer as the store knows it: `<kind>:<value>`, where kind is one of "
    "loyalty_card, web, app (the channel identifier the store sent with orders) and value "
    "is the card number or channel id, e.g. `loyalty_card:6001234567`. Kvitto's internal "
    "customer ids are never exposed."
)


# What parse_customer_ref accepts: a kind, a colon, and a value that is not only blanks.
CUSTOMER_REF_PATTERN = rf"^(?:{'|'.join(CustomerIdentifier.Kind.values)}):[^/]*\S[^/]*$"


def parse_customer_ref(ref: str) -> tuple[str, str] | None:
    kind, sep, value = ref.partition(":")
    if not sep or kind not in CustomerIdentifier.Kind.values or not value.strip():
        return None
    return kind, value.strip()


class CustomerConsentsView(APIView):
    authentication_classes = STORE_AUTHENTICATION
    permission_classes = [HasScope(Scope.CONSENTS)]

    @extend_schema(
        operation_id="customers_consents_read",
        summary="Read a customer's consents, to honour them in other systems",
        description=(
            "Every purpose with the shopper's latest decision and whether it may be processed "
            "now. Needs the `consents` scope (the `ingest` and `link` scopes do not grant it). "
            "Every successful read is logged (client, customer, time) for the privacy admin."
        ),
        parameters=[
            OpenApiParameter(
                "customer_ref",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description=CUSTOMER_REF_HELP,
                pattern=CUSTOMER_REF_PATTERN,
                examples=[OpenApiExample("Loyalty card", value="loyalty_card:6001234567")],
            )
        ],
        responses={
            200: CustomerConsentsSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Malformed customer reference."),
            404: OpenApiResponse(ErrorSerializer, description="No customer with that identifier."),
        },
        tags=["customers"],
    )
    def get(self, request: Request, customer_ref: str) -> Response:
        parsed = parse_customer_ref(customer_ref)
        if parsed is None:
            return Response(
                {"code": "bad_reference", "detail": CUSTOMER_REF_HELP},
                status=status.HTTP_400_BAD_REQUEST,
            )
        kind, value = parsed
        customer = services.find_customer(kind=kind, value=value)
        if customer is None:
            return Response(
                {"code": "not_found", "detail": "No customer with that identifier."},
                status=status.HTTP_404_NOT_FOUND,
            )
        ConsentRead.objects.create(client=request.auth, customer=customer)
        body = {
            "customer": {"kind": kind, "value": value},
            "has_login": customer.user_id is not None,
            "as_of": timezone.now(),
            "consents": _consent_rows(customer.user),
        }
        return Response(CustomerConsentsSerializer(body).data)


def _consent_rows(user: object) -> list[dict[str, object]]:
    current: dict[str, int] = {}
    for text in PurposeText.objects.order_by("purpose", "-version"):
        current.setdefault(text.purpose, text.version)
    latest: dict[str, ConsentEvent] = {}
    outdated: dict[str, tuple[int, int]] = {}
    if user is not None:
        for event in ConsentEvent.objects.for_user(user).select_related("text"):
            latest.setdefault(event.purpose, event)
        outdated = outdated_grants(user)
    rows = []
    for key, purpose in PURPOSES.items():
        event = latest.get(key)
        necessary = not purpose.switchable
        rows.append(
            {
                "purpose": key,
                "title": str(purpose.title),
                "lawful_basis": purpose.lawful_basis.value,
                "granted": necessary or bool(event and event.granted),
                "allowed": necessary or (user is not None and is_allowed(user, key)),
                "outdated": key in outdated,
                "text_version": event.text.version if event else None,
                "current_version": current.get(key),
                "decided_at": event.at if event else None,
                "method": event.method if event else None,
            }
        )
    return rows


urlpatterns = [
    path("customers/link-codes", LinkCodeCreateView.as_view(), name="api-customer-link-codes"),
    path("customers/link", LinkView.as_view(), name="api-customer-link"),
    path(
        "customers/<str:customer_ref>/consents",
        CustomerConsentsView.as_view(),
        name="api-customer-consents",
    ),
]
