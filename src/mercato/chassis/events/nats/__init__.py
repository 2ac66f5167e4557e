"""The event bus on NATS JetStream: the bus, deliveries, pull subscriptions, dead letters."""
