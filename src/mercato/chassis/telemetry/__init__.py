"""What a process tells its operator: the request id and trace context of the work
in progress, JSON logs, and the Prometheus metrics of the process (HTTP, events,
calls to other services, the database pool, background tasks).
"""
