"""The event bus on RabbitMQ: the bus, its topology, deliveries, consumers, the
tail of revocations, dead letters.
"""
