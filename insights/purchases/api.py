"""The shopper's own orders over the API: /api/v1/me/orders, filtered like the history page."""

from django.db.models import Prefetch
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError

from accounts.models import User
from insights.api.permissions import IsShopper
from insights.catalog.models import Category, Department, Product
from insights.purchases.filters import (
    HistoryFilterForm,
    HistoryFilters,
    blank_param_errors,
    filter_orders,
)
from insights.purchases.models import Channel, Order, OrderLine, OrderQuerySet


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name"]
        read_only_fields = fields


class CategorySerializer(serializers.ModelSerializer):
    department = DepartmentSerializer(read_only=True)

    class Meta:
        model = Category
        fields = ["id", "name", "department"]
        read_only_fields = fields


class ProductSerializer(serializers.ModelSerializer):
    size = serializers.CharField(
        source="size_label", read_only=True, help_text='Package size and unit, e.g. "500 g".'
    )
    category = CategorySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "brand", "size", "category"]
        read_only_fields = fields


class OrderLineSerializer(serializers.ModelSerializer):
    product = ProductSerializer(read_only=True)

    class Meta:
        model = OrderLine
        fields = [
            "line_no",
            "product",
            "quantity",
            "unit_price",
            "discount",
            "coupon_discount",
            "amount_paid",
        ]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    placed_at = serializers.DateTimeField(
        read_only=True, help_text="When the order was placed, in the shopper's time zone."
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "placed_at",
            "channel",
            "store_id",
            "currency",
            "total_amount",
            "total_discount",
            "line_count",
        ]
        read_only_fields = fields


class OrderDetailSerializer(OrderSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "lines"]
        read_only_fields = fields


POSITIVE_ID = {"type": "integer", "minimum": 1}
FILTER_PARAMETERS = [
    OpenApiParameter("q", str, description="Text in a bought product's name or brand, or its SKU."),
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="First day, inclusive, in the shopper's time zone."
    ),
    OpenApiParameter(
        "to", OpenApiTypes.DATE, description="Last day, inclusive, in the shopper's time zone."
    ),
    OpenApiParameter("category", POSITIVE_ID, description="Orders with at least one line in it."),
    OpenApiParameter("department", POSITIVE_ID, description="Orders with at least one line in it."),
    OpenApiParameter("channel", str, enum=Channel.values),
    OpenApiParameter(
        "weekday", int, enum=list(range(7)), description="0 = Monday … 6 = Sunday, local time."
    ),
    OpenApiParameter("hour", int, enum=list(range(24)), description="0-23, local time."),
]


class _ShopperView:
    # Session logins only (the default authentication); an API key is never a shopper,
    # and IsShopper also refuses one if API keys become a default authenticator.
    permission_classes = [IsShopper]

    def shopper_orders(self) -> OrderQuerySet:
        user: User = self.request.user  # type: ignore[attr-defined]
        return Order.objects.for_shopper(user)


class MyOrderList(_ShopperView, generics.ListAPIView):
    serializer_class = OrderSerializer

    @extend_schema(
        operation_id="me_orders_list",
        summary="Your orders, newest first",
        description="Paginated (25 a page). The filters are those of the history page.",
        parameters=FILTER_PARAMETERS,
        tags=["me"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> OrderQuerySet:
        blank = blank_param_errors(self.request.query_params)
        if blank:
            raise ValidationError(blank)
        form = HistoryFilterForm(self.request.query_params)
        if not form.is_valid():
            raise ValidationError(form.param_errors())
        filters = HistoryFilters.from_form(form)
        return filter_orders(self.shopper_orders(), filters, timezone.get_current_timezone())


class MyOrderDetail(_ShopperView, generics.RetrieveAPIView):
    serializer_class = OrderDetailSerializer

    @extend_schema(
        operation_id="me_orders_retrieve",
        summary="One of your orders with its lines",
        description="Another shopper's order id answers 404, as an unknown id does.",
        tags=["me"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> OrderQuerySet:
        lines = OrderLine.objects.select_related("product__category__department").order_by(
            "line_no"
        )
        return self.shopper_orders().prefetch_related(Prefetch("lines", queryset=lines))


urlpatterns = [
    path("me/orders", MyOrderList.as_view(), name="api-me-orders"),
    path("me/orders/<int:pk>", MyOrderDetail.as_view(), name="api-me-order"),
]
