"""Repurchase forecasts and the predicted shopping list."""
