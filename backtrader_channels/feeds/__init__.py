"""Live feeds: ccxt.pro WebSocket streams, and the loopback replay exchange."""
