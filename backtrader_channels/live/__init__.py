"""Live data: the feed protocol, the ccxt.pro feed, the live queue and driver, the validator."""
