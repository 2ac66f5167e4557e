"""Browser tests: the storefront in Chromium, driven through the gateway of `mercato up`."""
