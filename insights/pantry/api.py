"""The shopper's pantry over the API: GET /api/v1/me/pantry (items with dates and estimates)."""

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError

from accounts.consent import is_allowed
from accounts.purposes import PANTRY
from insights.api.permissions import IsShopper
from insights.pantry.models import PantryItem


class PantryProductSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField(source="category.name", allow_null=True, default=None)


class EstimateSerializer(serializers.Serializer):
    rule = serializers.ChoiceField(
        choices=PantryItem.Rule.choices,
        source="estimate_rule",
        help_text="What the current date rests on: the product's or the category's shelf "
        "life, opening, freezing, or your correction.",
    )
    days = serializers.IntegerField(source="rule_days", help_text="Days the rule assumed.")
    estimated_best_before = serializers.DateField(help_text="The first estimate, from the receipt.")
    text = serializers.CharField(
        source="estimate_text", help_text="How it was estimated, in words."
    )


class PantryItemSerializer(serializers.ModelSerializer):
    # Read-only throughout: items change through the pantry's services, never this serializer.
    product = PantryProductSerializer(read_only=True)
    estimate = EstimateSerializer(source="*", read_only=True)
    status = serializers.SerializerMethodField(
        help_text="expired, due_soon or fresh on today's date in your time zone."
    )
    usual_days = serializers.IntegerField(
        allow_null=True,
        read_only=True,
        help_text="Median days between your purchases of this product (how long a pack lasts you).",
    )

    class Meta:
        model = PantryItem
        fields = [
            "id",
            "product",
            "quantity",
            "bought_on",
            "best_before",
            "due_soon_on",
            "status",
            "state",
            "opened_on",
            "frozen_on",
            "estimate",
            "usual_days",
        ]
        read_only_fields = fields

    def get_status(self, item: PantryItem) -> str:
        return item.status_on(self.context["today"])


STATES = [choice for choice, _label in PantryItem.State.choices]


@extend_schema(
    tags=["pantry"],
    summary="Your pantry: items with best-before dates and how they were estimated",
    parameters=[
        OpenApiParameter(
            "state",
            OpenApiTypes.STR,
            enum=STATES,
            description="Which items; default in_pantry.",
        )
    ],
    responses={
        200: PantryItemSerializer(many=True),
        403: OpenApiResponse(
            description="Not logged in as a shopper, or pantry consent not given."
        ),
    },
)
class MyPantryView(generics.ListAPIView):
    permission_classes = [IsShopper]
    serializer_class = PantryItemSerializer

    def get_queryset(self):  # noqa: ANN201  (a QuerySet of PantryItem)
        if not is_allowed(self.request.user, PANTRY):
            raise PermissionDenied(_("Pantry tracking is not switched on for this account."))
        state = self.request.query_params.get("state", PantryItem.State.IN_PANTRY)
        if state not in STATES:
            raise ValidationError(
                {"state": _("Choose one of %(states)s.") % {"states": ", ".join(STATES)}}
            )
        return (
            PantryItem.objects.for_shopper(self.request.user)
            .filter(state=state)
            .select_related("product__category")
            .order_by("best_before", "pk")
        )

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "today": timezone.localdate()}


urlpatterns = [
    path("me/pantry", MyPantryView.as_view(), name="api-my-pantry"),
]
