"""The Your data page: ask for a copy of everything, download it, or erase the account."""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import data_rights
from accounts.forms import EraseAccountForm
from accounts.models import DataExport, ErasureRecord, User
from accounts.personal_data import data_classes
from accounts.purposes import PURPOSES


def _get_export_for_user(user: User, pk: int) -> DataExport:
    """The shopper's own export, or 404: another shopper's export looks like none at all."""
    return get_object_or_404(DataExport, pk=pk, user=user)


def _latest_export(user: User) -> DataExport | None:
    return DataExport.objects.filter(user=user).first()


def _status_context(export: DataExport | None) -> dict[str, object]:
    return {"export": export}


@login_required
def data(request: HttpRequest) -> HttpResponse:
    classes = [
        {"title": dc.title, "holds": dc.holds, "purpose": PURPOSES[dc.purpose].title}
        for dc in data_classes()
    ]
    context = {**_status_context(_latest_export(request.user)), "data_classes": classes}
    return render(request, "accounts/data.html", context)


@login_required
@require_POST
def export_request(request: HttpRequest) -> HttpResponse:
    export, created = data_rights.request_export(user=request.user)
    if request.htmx:
        return render(request, "accounts/data.html#export-status", _status_context(export))
    if created:
        messages.success(
            request, _("Your copy is being prepared. This page shows when it is ready.")
        )
    else:
        messages.info(request, _("Your copy is already being prepared."))
    return redirect("accounts:data")


@login_required
def export_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment htmx polls; without htmx, the whole page."""
    export = _get_export_for_user(request.user, pk)
    if request.htmx:
        return render(request, "accounts/data.html#export-status", _status_context(export))
    return redirect("accounts:data")


@login_required
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    export = _get_export_for_user(request.user, pk)
    path = data_rights.export_path(export) if export.file_name else None
    if not export.is_downloadable or path is None or not path.exists():
        return render(request, "accounts/export_gone.html", {"export": export}, status=410)
    stamp = timezone.localtime(export.finished_at).strftime("%Y-%m-%d")
    response = FileResponse(
        path.open("rb"), as_attachment=True, filename=f"kvitto-data-{stamp}.zip"
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def erase(request: HttpRequest) -> HttpResponse:
    """Delete the account after the password is typed again; a wrong one deletes nothing."""
    form = EraseAccountForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data_rights.erase_account(user=request.user, method=ErasureRecord.Method.WEB)
        logout(request)
        return redirect("accounts:data_erased")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/erase.html", {"form": form}, status=status)


def erased(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/erased.html")
