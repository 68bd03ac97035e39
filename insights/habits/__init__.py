"""Habit summaries: pandas over a shopper's history, stored as derived rows, drawn as SVG charts."""
