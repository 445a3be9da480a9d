"""Real order execution through ccxt: the live broker, its order model, ids, journal and risk.

``CCXTBroker`` (ccxt is imported with it) is reached as ``btch.brokers.CCXTBroker``;
``RiskLimits`` (no ccxt) as ``btch.RiskLimits``.
"""
