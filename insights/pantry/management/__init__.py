"""Management commands of the pantry app."""
