"""The shopper's predicted list over the API: /api/v1/me/shopping-list, its items and actions."""

from decimal import Decimal
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.consent import is_allowed
from accounts.purposes import PREDICTIONS
from insights.api.permissions import IsShopper
from insights.catalog.models import Product
from insights.forecasts import services
from insights.forecasts.listing import Row, list_context
from insights.forecasts.models import ListItem


class ProductRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()


class ItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="item.pk")
    product = serializers.SerializerMethodField()
    label = serializers.CharField(source="item.label")
    free_text = serializers.CharField(source="item.free_text")
    kind = serializers.ChoiceField(choices=ListItem.Kind.choices, source="item.kind")
    state = serializers.ChoiceField(choices=ListItem.State.choices, source="item.state")
    quantity = serializers.DecimalField(max_digits=10, decimal_places=3, source="item.quantity")
    department = serializers.SerializerMethodField()
    confidence = serializers.SerializerMethodField(
        help_text="high / likely / maybe; empty for your own items and popular suggestions."
    )
    probability = serializers.FloatField(source="item.probability", allow_null=True)
    popular = serializers.BooleanField(
        help_text="A suggestion from what other shoppers buy, not from your own cadence."
    )
    evidence = serializers.CharField(help_text="Why it is on the list, in words.")
    expected_date = serializers.SerializerMethodField()

    @extend_schema_field(ProductRefSerializer(allow_null=True))
    def get_product(self, row: Row) -> dict[str, Any] | None:
        product = row.item.product
        if product is None:
            return None
        return {"id": product.pk, "sku": product.sku, "name": product.name}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_department(self, row: Row) -> str | None:
        return row.item.department.name if row.item.department_id else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_confidence(self, row: Row) -> str:
        return "" if row.popular else row.item.confidence

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_expected_date(self, row: Row) -> str | None:
        forecast = row.forecast
        if forecast is None or forecast.expected_date is None or row.popular:
            return None
        return forecast.expected_date.isoformat()


class LastListSerializer(serializers.Serializer):
    n_items = serializers.IntegerField()
    n_bought = serializers.IntegerField()
    shop_at = serializers.DateTimeField()


class ShoppingListSerializer(serializers.Serializer):
    for_trip_on = serializers.DateField(allow_null=True)
    trip_text = serializers.CharField()
    status = serializers.CharField(help_text="fresh, computing or stale")
    computed_at = serializers.DateTimeField(allow_null=True)
    items = ItemSerializer(many=True, help_text="To buy, in aisle order; then popular ones.")
    skipped = ItemSerializer(many=True, help_text="Marked 'not this time'.")
    together = ItemSerializer(many=True, help_text="Often bought together: add with 'add'.")
    last_list = LastListSerializer(allow_null=True)


class ActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=services.LIST_ACTIONS)
    days = serializers.IntegerField(
        required=False, min_value=1, max_value=365, help_text="For 'snooze': how many days."
    )


class OwnItemSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(required=False)
    sku = serializers.CharField(required=False)
    free_text = serializers.CharField(required=False, allow_blank=True, max_length=200)
    quantity = serializers.DecimalField(
        max_digits=10, decimal_places=3, required=False, min_value=Decimal("0.001")
    )


def _require_consent(request: Request) -> None:
    if not is_allowed(request.user, PREDICTIONS):
        raise PermissionDenied(_("Predicted shopping lists are switched off for this account."))


def _payload(user: Any) -> dict[str, Any]:
    context = list_context(user)
    shopping_list = context["shopping_list"]
    return {
        "for_trip_on": shopping_list.for_trip_on if shopping_list else None,
        "trip_text": context["trip_text"],
        "status": (
            "computing"
            if context["computing"]
            else shopping_list.status
            if shopping_list
            else "stale"
        ),
        "computed_at": shopping_list.computed_at if shopping_list else None,
        "items": [row for group in context["groups"] for row in group.rows] + context["popular"],
        "skipped": context["skipped"],
        "together": context["together"],
        "last_list": context["last_list"],
    }


def _row(item: ListItem) -> Row:
    return Row(item=item, forecast=None, evidence="", popular=False)


class ShoppingListView(APIView):
    permission_classes = [IsShopper]

    @extend_schema(
        responses={200: ShoppingListSerializer, 403: OpenApiResponse(description="No consent.")},
        summary="Your predicted shopping list",
        tags=["shopping list"],
    )
    def get(self, request: Request) -> Response:
        _require_consent(request)
        return Response(ShoppingListSerializer(_payload(request.user)).data)


class OwnItemView(APIView):
    permission_classes = [IsShopper]

    @extend_schema(
        request=OwnItemSerializer,
        responses={
            201: ItemSerializer,
            400: OpenApiResponse(description="Nothing to add."),
            404: OpenApiResponse(description="No active product with that id or SKU."),
        },
        summary="Add your own item (a product by id or SKU, or free text)",
        tags=["shopping list"],
    )
    def post(self, request: Request) -> Response:
        _require_consent(request)
        data = OwnItemSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        product = None
        if values.get("product_id") is not None:
            product = get_object_or_404(Product, pk=values["product_id"], active=True)
        elif values.get("sku"):
            product = get_object_or_404(Product, sku=values["sku"], active=True)
        try:
            item = services.add_own_item(
                user=request.user,
                product=product,
                free_text=values.get("free_text", ""),
                quantity=values.get("quantity") or Decimal("1"),
            )
        except services.ActionError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(ItemSerializer(_row(item)).data, status=status.HTTP_201_CREATED)


class ItemActionView(APIView):
    permission_classes = [IsShopper]

    @extend_schema(
        request=ActionSerializer,
        responses={
            200: ItemSerializer,
            204: OpenApiResponse(description="The item left the list (snooze, never, ...)."),
            404: OpenApiResponse(description="No such item on your list."),
        },
        summary="Tick off, skip, snooze, 'still have some', never suggest, add or remove",
        tags=["shopping list"],
    )
    def post(self, request: Request, pk: int) -> Response:
        _require_consent(request)
        item = get_object_or_404(
            ListItem.objects.select_related("product", "department"),
            pk=pk,
            shopping_list__user=request.user,
        )
        data = ActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = services.apply_item_action(
                user=request.user,
                item=item,
                action=data.validated_data["action"],
                days=data.validated_data.get("days"),
            )
        except services.ActionError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        if result is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ItemSerializer(_row(result)).data)


urlpatterns = [
    path("me/shopping-list", ShoppingListView.as_view(), name="shopping-list"),
    path("me/shopping-list/items", OwnItemView.as_view(), name="shopping-list-items"),
    path(
        "me/shopping-list/items/<int:pk>/actions",
        ItemActionView.as_view(),
        name="shopping-list-item-actions",
    ),
]
