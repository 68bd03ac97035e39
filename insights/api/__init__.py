"""DRF wiring: the router, API-key authentication for the store's systems, and the schema."""
