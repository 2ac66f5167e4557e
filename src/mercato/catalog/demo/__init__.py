"""The demo catalog: `products.json` and the generator that wrote it (`generate`)."""
