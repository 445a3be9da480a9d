"""The engine: queues, the dispatch loop and the tick-mode Cerebro."""
