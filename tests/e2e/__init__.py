"""End-to-end tests: `mercato up` in a subprocess, driven only through the gateway."""
