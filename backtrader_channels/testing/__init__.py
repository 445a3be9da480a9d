"""Test and demo helpers: the loopback replay exchange and seeded synthetic data."""
