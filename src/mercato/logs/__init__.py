"""The logs service: the audit log, every domain event of every service, queryable.

It consumes all event types (the catch-all handler `">"`), including types added
later and types no schema knows, and keeps each event once, as it was published, in
the append-only `audit_events` table. Admins query it by type (or type prefix),
source, user, order, subject and time, in the order the events occurred. Events
older than the retention period are deleted in the background. The service
publishes no events of its own.
"""
