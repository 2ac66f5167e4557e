"""The examples the shipping API's documents show (one of each body and answer)."""

from __future__ import annotations

from typing import Any

__all__ = ["CURSOR", "LINE", "METHOD", "RATE", "RATE_OUT", "RETURN", "SHIPMENT", "STAMPS"]

METHOD: dict[str, Any] = {
    "code": "standard",
    "name": "Standard delivery",
    "min_days": 3,
    "max_days": 7,
    "active": True,
}
STAMPS: dict[str, Any] = {
    "created_at": "2026-12-01T09:00:00Z",
    "updated_at": "2026-12-02T10:30:00Z",
}
RATE: dict[str, Any] = {
    "method": "standard",
    "countries": ["US"],
    "currency": "USD",
    "max_weight_grams": 5000,
    "price": 499,
    "free_over": 5000,
}
LINE: dict[str, Any] = {"product_id": "b6f1c2d4e5", "quantity": 2}
SHIPMENT: dict[str, Any] = {
    "id": "5f0c3b9a8e7d4c21b0a9f8e7d6c5b4a3",
    "order_id": "0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4",
    "user_id": "8d5e2c1a-4b7f-4e11-9c3a-2f6d8b0e7a51",
    "status": "shipped",
    "method": "standard",
    "items": [LINE],
    "address": {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Boston", "country": "US"},
    "split_from": None,
    "carrier": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "tracking_url": "https://tracking.example.com/1Z999AA10123456784",
    **STAMPS,
    "shipped_at": "2026-12-02T10:30:00Z",
    "delivered_at": None,
}
RETURN: dict[str, Any] = {
    "id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "order_id": SHIPMENT["order_id"],
    "user_id": SHIPMENT["user_id"],
    "status": "requested",
    "items": [{"product_id": "b6f1c2d4e5", "quantity": 1}],
    "reason": "Too small.",
    "rejection_reason": None,
    **STAMPS,
}
CURSOR = "WyIyMDI2LTEyLTAyVDEwOjMwOjAwWiIsImExIl0"
RATE_OUT: dict[str, Any] = {"id": "4c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", **RATE, **STAMPS}
