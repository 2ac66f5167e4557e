"""A service's database: the async engine and sessions, migrations, the in-loop SQLite
driver, and reads run straight on the driver (the fast lane), long SQLite ones on
worker threads.
"""
