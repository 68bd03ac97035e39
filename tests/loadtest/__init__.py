"""Tests of the load benchmark harness (the parts that run without locust)."""
