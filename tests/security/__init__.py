"""Security tests: one module per area of the hardening work, each attack refused."""
