"""Kvitto: a shopper's receipts turned into insight for that shopper."""

from .celery import app as celery_app

__all__ = ("celery_app",)
