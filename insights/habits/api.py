"""GET /api/v1/me/habits: the shopper's stored habit aggregates and highlights."""

from datetime import date

from django.conf import settings
from django.http import QueryDict
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.consent import is_allowed
from accounts.purposes import INSIGHTS
from insights.api.permissions import IsShopper
from insights.habits import services
from insights.habits.models import HabitSnapshot
from insights.habits.presentation import highlight_text


class HighlightSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    kind = serializers.CharField()
    text = serializers.CharField()
    compares = serializers.CharField()
    params = serializers.DictField()


class HabitsSerializer(serializers.Serializer):
    period = serializers.CharField()
    status = serializers.ChoiceField(choices=HabitSnapshot.Status.choices)
    computed_at = serializers.DateTimeField(allow_null=True)
    source_last_order_at = serializers.DateTimeField(allow_null=True)
    currency = serializers.CharField()
    summary = serializers.DictField(
        allow_null=True,
        help_text="The stored aggregates (money as decimal strings); null while computing.",
    )
    highlights = HighlightSerializer(many=True)


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _parse(query: QueryDict) -> tuple[str, object]:
    from insights.habits.views import parse_period

    period = query.get("period", "3m")
    if period not in ("4w", "3m", "12m", "custom"):
        raise ValidationError({"period": _("Use 4w, 3m, 12m or custom (with from and to).")})
    for name in ("from", "to"):
        if name in query and not _is_date(query[name]):
            raise ValidationError({name: _("Give a date as YYYY-MM-DD.")})
    key, window, error = parse_period(query)
    if error:
        raise ValidationError({"period": error})
    return key, window


class MyHabitsView(APIView):
    permission_classes = [IsShopper]

    @extend_schema(
        operation_id="me_habits",
        summary="My habit summary for a period",
        parameters=[
            OpenApiParameter("period", OpenApiTypes.STR, enum=["4w", "3m", "12m", "custom"]),
            OpenApiParameter("from", OpenApiTypes.DATE, description="With period=custom."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="With period=custom."),
        ],
        responses={
            200: HabitsSerializer,
            400: OpenApiResponse(description="An unknown period or a bad range."),
            403: OpenApiResponse(description="Not a shopper, or habit summaries not switched on."),
        },
    )
    def get(self, request: Request) -> Response:
        if not is_allowed(request.user, INSIGHTS):
            raise PermissionDenied(
                _("Habit summaries are off. Switch on 'Habit summaries' in your privacy choices.")
            )
        period, window = _parse(request.query_params)
        snapshot = HabitSnapshot.objects.filter(user=request.user, period=period).first()
        if snapshot is None:
            snapshot = services.request_period(user=request.user, period=period, window=window)
        currency = getattr(settings, "CURRENCY", "SEK")
        highlights = list(snapshot.highlights.visible()) if snapshot.data else []
        body = {
            "period": snapshot.period,
            "status": snapshot.status,
            "computed_at": snapshot.computed_at,
            "source_last_order_at": snapshot.source_last_order_at,
            "currency": currency,
            "summary": snapshot.data or None,
            "highlights": [
                {
                    "id": h.pk,
                    "key": h.key,
                    "kind": h.kind,
                    "params": h.params,
                    **highlight_text(h, currency),
                }
                for h in highlights
            ],
        }
        return Response(HabitsSerializer(body).data)


urlpatterns = [path("me/habits", MyHabitsView.as_view(), name="me-habits")]
