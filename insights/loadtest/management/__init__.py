"""Management commands of the load benchmark."""
