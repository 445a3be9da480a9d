"""The dispatch pipeline: event queue, tick loop, order and trade notifications."""
