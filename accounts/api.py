"""Endpoints for the store's systems to link a customer to a Kvitto login (scope "link")."""

from django.urls import path
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import CustomerIdentifier
from insights.api.authentication import ApiKeyAuthentication
from insights.api.models import Scope
from insights.api.permissions import HasScope


class CustomerRefSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=CustomerIdentifier.Kind.choices,
        help_text="How the channel knows the customer.",
    )
    value = serializers.CharField(max_length=64, help_text="The card number or channel id.")

    def validate_value(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value


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


class _LinkScopeView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope(Scope.LINK)]


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


urlpatterns = [
    path("customers/link-codes", LinkCodeCreateView.as_view(), name="api-customer-link-codes"),
    path("customers/link", LinkView.as_view(), name="api-customer-link"),
]
