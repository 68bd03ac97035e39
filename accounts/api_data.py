"""The shopper's own data export over the API: start one, and see its state and link."""

from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import data_rights
from accounts.models import DataExport


class DataExportSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True, help_text="Progress, 0 to 100.")
    download_url = serializers.SerializerMethodField(
        help_text="Where to download the ZIP (logged in as its owner) while it is ready and "
        "not expired; null otherwise."
    )
    row_counts = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Rows per file of the ZIP, once ready.",
    )

    class Meta:
        model = DataExport
        fields = [
            "id",
            "status",
            "percent",
            "requested_at",
            "finished_at",
            "expires_at",
            "size_bytes",
            "row_counts",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, export: DataExport) -> str | None:
        if not export.is_downloadable:
            return None
        url = reverse("accounts:data_export_download", args=[export.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class MeExportView(APIView):
    """GDPR art. 15 and 20 for API clients: the logged-in shopper's own export only."""

    @extend_schema(
        operation_id="me_export_retrieve",
        summary="Your latest data export",
        description=(
            "The state of the most recent copy of your data: waiting, being prepared (with "
            "progress), ready (with a download link that works for you only, until it "
            "expires) or failed. 404 when you never asked for one."
        ),
        responses={200: DataExportSerializer, 404: OpenApiResponse(description="No export yet.")},
        tags=["me"],
    )
    def get(self, request: Request) -> Response:
        export = DataExport.objects.filter(user=request.user).first()
        if export is None:
            return Response({"detail": _("No export yet.")}, status=status.HTTP_404_NOT_FOUND)
        return Response(DataExportSerializer(export, context={"request": request}).data)

    @extend_schema(
        operation_id="me_export_create",
        summary="Ask for a copy of your data",
        description=(
            "Starts preparing a ZIP with all your data (CSV and JSON, with a README). "
            "202 with the new export; 200 with the running one when one is already being "
            "prepared. Poll GET /api/v1/me/export until `status` is `ready`."
        ),
        request=None,
        responses={202: DataExportSerializer, 200: DataExportSerializer},
        tags=["me"],
    )
    def post(self, request: Request) -> Response:
        export, created = data_rights.request_export(user=request.user)
        body = DataExportSerializer(export, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


urlpatterns = [path("me/export", MeExportView.as_view(), name="api-me-export")]
