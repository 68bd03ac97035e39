"""Best-before estimates from receipts, pantry items and reminders."""
