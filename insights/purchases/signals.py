"""Signals other apps listen to, so purchases never imports the apps that derive from it.

`history_changed` is sent by the refresh task (a Celery worker, outside any request) with
`user_id` and `customer_id` once a shopper's orders changed. Receivers in habits,
forecasts and pantry check their purpose's consent and recompute their derived data.
"""

from django.dispatch import Signal

history_changed = Signal()
