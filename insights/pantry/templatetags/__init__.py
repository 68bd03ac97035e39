"""Template tags of the pantry app."""
