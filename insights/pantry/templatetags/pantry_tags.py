"""`{% pantry_unread_count as n %}`: the bell's count, one query, only where the bell is drawn."""

from django import template

from insights.pantry.models import Notification

register = template.Library()


@register.simple_tag(takes_context=True)
def pantry_unread_count(context: template.Context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    # Withdrawing PANTRY deletes the notifications, so no consent check is needed here.
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
