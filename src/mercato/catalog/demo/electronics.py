"""Demo recipes for electronics: laptops, phones, accessories, audio, cameras.

Every recipe takes a seeded `Random` and yields `Draft`s without end (the generator
keeps the first 25 distinct titles): the parts of a product that
depend on its category (title, brand, price in cents, tags, a description and the
category's own attributes, like a laptop's CPU or a charger's port and wattage). All
brands and product lines are invented for this project.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count
from random import Random
from typing import Any

__all__ = [
    "COLORS",
    "Draft",
    "Recipe",
    "audio",
    "cameras",
    "laptops",
    "mobile_accessories",
    "price",
    "smartphones",
]


@dataclass
class Draft:
    """The category-specific part of one demo product."""

    title: str
    brand: str
    cents: int
    tags: list[str]
    description: str
    attributes: dict[str, Any] = field(default_factory=dict)


Recipe = Callable[[Random], Iterator[Draft]]
COLORS = ["Black", "White", "Graphite", "Navy", "Olive", "Sand", "Burgundy", "Slate Blue"]


def price(cents: float) -> int:
    """A shelf price: rounded to the dollar, minus a cent (129999 for ~$1300)."""
    return max(99, round(cents / 100) * 100 - 1)


def laptops(r: Random) -> Iterator[Draft]:
    """Laptops with a CPU, memory, storage, screen and GPU."""
    lines = {
        "Northwind": [("Aero", 13.3), ("Aero", 15.6), ("Forge", 16.0)],
        "Kestrel": [("Swift", 14.0), ("Swift Pro", 16.0)],
        "Vantix": [("Edge", 14.0), ("Titan", 17.3)],
        "Aurelian": [("Book Air", 13.6), ("Book Pro", 15.3)],
    }
    cpus = [
        ("Intel Core i5-1340P", 0),
        ("Intel Core i7-13700H", 250),
        ("Intel Core Ultra 7 155H", 320),
        ("AMD Ryzen 5 7640U", 60),
        ("AMD Ryzen 7 7840HS", 280),
        ("AMD Ryzen 9 7940HS", 420),
    ]
    gpus = [("Integrated graphics", 0), ("GeForce RTX 4050", 300), ("GeForce RTX 4070", 650)]
    for n in count():
        brand = r.choice(list(lines))
        line, screen = r.choice(lines[brand])
        cpu, cpu_cost = r.choice(cpus)
        ram, storage = r.choice([8, 16, 16, 32, 64]), r.choice([256, 512, 512, 1024, 2048])
        gpu, gpu_cost = r.choice(gpus) if screen >= 15 else gpus[0]
        model = f"{brand[:2].upper()}{line.split()[0][:2].upper()}-{24 + n % 2}{r.randint(10, 99)}"
        drive = f"{storage // 1024}TB" if storage >= 1024 else f"{storage}GB"
        cost = 550 + cpu_cost + gpu_cost + ram * 9 + storage * 0.25 + (screen - 13) * 60
        tags = ["laptop", "computer", "gaming" if gpu_cost else "ultrabook"]
        yield Draft(
            title=f'{brand} {line} {screen}" Laptop, {cpu.split(" ", 1)[1]}, {ram}GB, {drive}',
            brand=brand,
            cents=price(cost * 100),
            tags=tags,
            description=(
                f"The {brand} {line} (model {model}) pairs an {cpu} with {ram} GB of RAM and a "
                f"{drive} NVMe SSD on a {screen}-inch {r.choice(['IPS', 'OLED'])} display. "
                f"{gpu} for {'games and creative work' if gpu_cost else 'everyday work'}."
            ),
            attributes={
                "model": model,
                "cpu": cpu,
                "ram_gb": ram,
                "storage_gb": storage,
                "screen_inches": screen,
                "gpu": gpu,
                "os": r.choice(["Windows 11 Home", "Windows 11 Pro", "Ubuntu 24.04 LTS"]),
                "battery_wh": r.choice([54, 60, 72, 86, 99]),
                "weight_kg": round(0.9 + (screen - 13) * 0.35 + r.random() * 0.3, 2),
            },
        )


def smartphones(r: Random) -> Iterator[Draft]:
    """Phones with storage, screen, camera and battery."""
    lines = {
        "Lumio": ["8", "8 Pro", "Lite 3"],
        "Orbitel": ["Orbit X", "Orbit X Max", "Orbit Mini"],
        "Pelagia": ["Wave 5", "Wave 5 Ultra"],
    }
    while True:
        brand = r.choice(list(lines))
        line = r.choice(lines[brand])
        storage, color = r.choice([128, 256, 512]), r.choice(COLORS[:5])
        premium = any(word in line for word in ("Pro", "Max", "Ultra"))
        screen = round(r.uniform(6.6, 6.9) if premium else r.uniform(6.0, 6.5), 1)
        cost = (899 if premium else 449) + storage * 0.6 + r.randint(0, 60)
        name = f"{brand} {line}"
        yield Draft(
            title=f"{name} 5G {storage}GB, {color}",
            brand=brand,
            cents=price(cost * 100),
            tags=["smartphone", "phone", "5g", "android"],
            description=(
                f"{name} with a {screen}-inch 120 Hz display, {storage} GB of storage and a "
                f"{'triple' if premium else 'dual'} camera. Unlocked, dual SIM, USB-C charging."
            ),
            attributes={
                "storage_gb": storage,
                "color": color,
                "screen_inches": screen,
                "main_camera_mp": r.choice([50, 64, 108, 200] if premium else [12, 48, 50]),
                "battery_mah": r.choice([4500, 5000, 5400]),
                "charging_port": "USB-C",
                "os": "Android 15",
                "network": "5G",
            },
        )


def mobile_accessories(r: Random) -> Iterator[Draft]:
    """Chargers, cables, power banks and wireless pads."""
    brands = ["VoltKit", "Chargewell", "Ampwise"]
    for n in count():
        brand, kind = r.choice(brands), n % 4
        if kind == 0:
            watts = r.choice([20, 30, 45, 65, 100, 140])
            ports = r.choice(["1x USB-C", "2x USB-C", "2x USB-C + 1x USB-A"])
            yield Draft(
                f"{brand} {watts}W GaN Charger, {ports}",
                brand,
                price(900 + watts * 45),
                ["charger", "usb-c", "gan", "fast-charging"],
                f"A compact {watts} W gallium-nitride wall charger with {ports}. Charges "
                f"{'a laptop' if watts >= 65 else 'a phone'} at full speed over USB PD.",
                {
                    "port_type": "USB-C",
                    "ports": ports,
                    "wattage": watts,
                    "protocols": ["USB PD 3.0", "PPS"],
                    "gan": True,
                    "plug": "US",
                },
            )
        elif kind == 1:
            ends = r.choice(["USB-C to USB-C", "USB-A to USB-C", "USB-C to Lightning"])
            length, watts = r.choice([0.5, 1.0, 2.0, 3.0]), r.choice([60, 100, 240])
            yield Draft(
                f"{brand} {ends} Cable, {length} m, {watts}W",
                brand,
                price(700 + length * 300 + watts * 4),
                ["cable", "usb-c", "charging"],
                f"Braided {ends} cable, {length} m long, rated for {watts} W charging and "
                "480 Mbps data. Tested for 20,000 bends.",
                {
                    "connectors": ends,
                    "length_m": length,
                    "max_wattage": watts,
                    "data_rate": "480 Mbps",
                    "braided": True,
                },
            )
        elif kind == 2:
            capacity, watts = r.choice([5000, 10000, 20000, 26800]), r.choice([20, 30, 65])
            yield Draft(
                f"{brand} Power Bank {capacity} mAh, {watts}W",
                brand,
                price(1500 + capacity * 0.15 + watts * 20),
                ["power-bank", "battery", "usb-c"],
                f"A {capacity} mAh portable battery with {watts} W USB-C output and pass-through "
                "charging. Fits in a jacket pocket; airline carry-on safe.",
                {
                    "capacity_mah": capacity,
                    "wattage": watts,
                    "port_type": "USB-C",
                    "ports": ["USB-C", "USB-A"],
                },
            )
        else:
            pad_watts = r.choice([7.5, 15.0])
            yield Draft(
                f"{brand} Magnetic Wireless Charging Pad {pad_watts:g}W",
                brand,
                price(1900 + pad_watts * 100),
                ["wireless-charger", "qi2", "charger"],
                f"A magnetic Qi2 charging pad delivering up to {pad_watts:g} W. Aluminium body, "
                "1.5 m USB-C cable included; needs a 20 W adapter.",
                {"standard": "Qi2", "wattage": pad_watts, "port_type": "USB-C", "magnetic": True},
            )


def audio(r: Random) -> Iterator[Draft]:
    """Headphones, earbuds and speakers."""
    brands = ["Sonara", "Basswell", "Echoline"]
    for n in count():
        brand, color = r.choice(brands), r.choice(COLORS[:4])
        anc, hours = r.random() < 0.6, r.choice([8, 24, 30, 40, 60])
        kind = ["Over-Ear Headphones", "True Wireless Earbuds", "Portable Speaker"][n % 3]
        cost = {0: 79, 1: 49, 2: 39}[n % 3] + (90 if anc and n % 3 < 2 else 0) + hours
        extra: dict[str, Any] = (
            {"output_watts": r.choice([10, 20, 40]), "waterproof": "IPX7"}
            if n % 3 == 2
            else {"noise_cancelling": anc, "driver_mm": r.choice([6, 10, 40, 50])}
        )
        yield Draft(
            title=f"{brand} {r.choice(['Aria', 'Pulse', 'Halo', 'Drift'])} {kind}, {color}",
            brand=brand,
            cents=price(cost * 100),
            tags=["audio", "bluetooth", kind.split()[-1].lower()],
            description=(
                f"{kind} with Bluetooth 5.3 and up to {hours} hours of battery"
                f"{' and active noise cancelling' if anc and n % 3 < 2 else ''}. "
                "Charges over USB-C; pairs with two devices at once."
            ),
            attributes={
                "color": color,
                "battery_hours": hours,
                "bluetooth": "5.3",
                "charging_port": "USB-C",
                **extra,
            },
        )


def cameras(r: Random) -> Iterator[Draft]:
    """Camera bodies, lenses and action cameras."""
    for n in count():
        brand = r.choice(["Optiq", "Lumetra", "Fennec"])
        mount = {"Optiq": "OQ", "Lumetra": "LM", "Fennec": "FX"}[brand]
        if n % 3 == 0:
            sensor, mp = r.choice(["Full frame", "APS-C"]), r.choice([24, 33, 45, 61])
            yield Draft(
                f"{brand} {mount}-{r.randint(3, 9)} Mirrorless Camera Body, {mp} MP {sensor}",
                brand,
                price((700 + mp * 40 + (900 if sensor == "Full frame" else 0)) * 100),
                ["camera", "mirrorless", "photography"],
                f"A {mp}-megapixel {sensor.lower()} mirrorless body with in-body stabilisation, "
                f"{r.choice(['4K 60p', '6K 30p', '8K 24p'])} video and two card slots.",
                {
                    "sensor": sensor,
                    "megapixels": mp,
                    "mount": f"{mount} mount",
                    "stabilisation": "5-axis IBIS",
                    "card_slots": 2,
                },
            )
        elif n % 3 == 1:
            focal, aperture = r.choice([(24, 1.4), (35, 1.8), (50, 1.2), (85, 1.8)])
            yield Draft(
                f"{brand} {focal}mm f/{aperture} Prime Lens ({mount} mount)",
                brand,
                price((300 + focal * 4 + (800 if aperture < 1.5 else 0)) * 100),
                ["lens", "camera", "photography"],
                f"A fast {focal} mm f/{aperture} prime with a quiet linear focus motor and "
                "weather sealing, for portraits, street and low light.",
                {
                    "focal_length_mm": focal,
                    "max_aperture": f"f/{aperture}",
                    "mount": f"{mount} mount",
                    "filter_mm": r.choice([58, 62, 67, 77]),
                },
            )
        else:
            depth = r.choice([10, 20, 40])
            yield Draft(
                f"{brand} Action Cam {r.choice(['Go', 'Trail', 'Dive'])} 5K",
                brand,
                price((249 + depth * 3) * 100),
                ["action-camera", "camera", "waterproof"],
                f"A rugged 5K action camera, waterproof to {depth} m without a housing, with "
                "horizon levelling and a front screen for vlogging.",
                {"video": "5.3K 60p", "waterproof_m": depth, "battery_mah": 1720},
            )
