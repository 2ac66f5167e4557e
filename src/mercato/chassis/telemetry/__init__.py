"""What a process tells its operator: the request id and trace context of the work
in progress, JSON logs, and the HTTP metrics.
"""
