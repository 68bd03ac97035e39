"""Orders and their lines from every channel, and the one way they come in."""
