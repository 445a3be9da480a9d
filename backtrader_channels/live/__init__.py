"""Live data checks."""
