"""Template tags shared by Kvitto's apps: money and quantities in the active locale."""
