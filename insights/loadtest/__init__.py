"""The load benchmark: every page under many shoppers at once, on gunicorn and PostgreSQL."""
