"""`manage.py bench_load`."""
