"""The calls a service makes to others: the service client (pooling, timeouts,
retries, balancing, circuit breakers), its service tokens, and what a call returns.
"""
