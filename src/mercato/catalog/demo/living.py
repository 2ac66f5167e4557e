"""Demo recipes for home and living: smart home, kitchen, furniture, clothes, sport.

Same contract as `electronics`: each recipe yields `Draft`s from a seeded `Random`.
Clothes and shoes carry their available sizes and colours; furniture its
dimensions; kitchen appliances their capacity and power.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from random import Random
from typing import Any

from mercato.catalog.demo.electronics import COLORS, Draft, price

__all__ = [
    "footwear",
    "furniture",
    "kitchen",
    "mens_clothing",
    "smart_home",
    "sports_outdoors",
    "womens_clothing",
]

LETTER_SIZES = ["XS", "S", "M", "L", "XL", "XXL"]


def smart_home(r: Random) -> Iterator[Draft]:
    """Bulbs, plugs, thermostats and doorbells with their radio protocol."""
    kinds: list[tuple[str, int, list[str], dict[str, Any]]] = [
        ("Smart Bulb E27, 1100 lm", 1499, ["lighting", "bulb"], {"lumens": 1100, "socket": "E27"}),
        ("Smart Plug with Energy Meter", 1999, ["plug", "energy"], {"max_load_w": 3680}),
        ("Smart Thermostat", 12999, ["thermostat", "heating"], {"display": "2.4-inch colour"}),
        ("Video Doorbell 2K", 8999, ["doorbell", "camera", "security"], {"video": "2K HDR"}),
        ("Motion Sensor", 2499, ["sensor", "security"], {"battery": "CR2450, 2 years"}),
    ]
    for n in count():
        brand = r.choice(["Casalink", "Glowly", "Homely"])
        name, cents, tags, extra = kinds[n % len(kinds)]
        protocol = r.choice(["Matter over Thread", "Zigbee 3.0", "Wi-Fi"])
        yield Draft(
            title=f"{brand} {name} ({protocol})",
            brand=brand,
            cents=price(cents * r.uniform(0.85, 1.25)),
            tags=["smart-home", *tags, protocol.split()[0].lower()],
            description=(
                f"{name} from {brand} that speaks {protocol}, so it works with the major "
                "voice assistants and home hubs. Set-up in the app takes about a minute."
            ),
            attributes={
                "protocol": protocol,
                "power": "230 V" if n % 5 < 2 else "battery",
                **extra,
            },
        )


def kitchen(r: Random) -> Iterator[Draft]:
    """Kettles, coffee machines, blenders, pans and knives."""
    for n in count():
        brand, color = r.choice(["Cuoco", "Brewline", "Ferrum & Oak"]), r.choice(COLORS[:4])
        kind = n % 5
        attributes: dict[str, Any]
        if kind == 0:
            litres, watts = r.choice([1.0, 1.5, 1.7]), r.choice([2200, 3000])
            title, cents = f"{brand} Variable Temperature Kettle {litres} L", 4999 + litres * 1000
            attributes = {"capacity_l": litres, "wattage": watts, "keep_warm": True}
        elif kind == 1:
            bar = r.choice([9, 15, 19])
            title, cents = f"{brand} Espresso Machine {bar} bar with Steam Wand", 14999 + bar * 800
            attributes = {"pressure_bar": bar, "water_tank_l": 1.8, "grinder": bar == 19}
        elif kind == 2:
            watts = r.choice([800, 1200, 1500])
            title, cents = f"{brand} High-Speed Blender {watts} W", 6999 + watts * 4
            attributes = {"wattage": watts, "jug_l": 1.8, "programs": r.choice([3, 5, 8])}
        elif kind == 3:
            cm, material = r.choice([20, 24, 28]), r.choice(["Cast iron", "Stainless steel"])
            title, cents = f"{brand} {material} Frying Pan {cm} cm", 2999 + cm * 150
            attributes = {"diameter_cm": cm, "material": material, "induction": True}
        else:
            blade = r.choice([15, 20, 23])
            title, cents = f"{brand} Chef's Knife {blade} cm, VG-10 Steel", 5999 + blade * 200
            attributes = {"blade_cm": blade, "steel": "VG-10", "hardness_hrc": 60}
        yield Draft(
            title=title,
            brand=brand,
            cents=price(cents),
            tags=["kitchen", "appliance" if kind < 3 else "cookware"],
            description=(
                f"{title}. Designed in Europe by {brand}, finished in {color.lower()} and built "
                "to last; dishwasher-safe parts where it makes sense."
            ),
            attributes={"color": color, **attributes},
        )


def furniture(r: Random) -> Iterator[Draft]:
    """Desks, chairs, shelves and sofas with their dimensions."""
    for n in count():
        brand = r.choice(["Oakhaven", "Linden & Co", "Hygge Home"])
        wood = r.choice(["Oak", "Walnut", "Birch", "Ash"])
        kind = n % 4
        if kind == 0:
            width = r.choice([120, 140, 160, 180])
            title, cents = f"{brand} Height-Adjustable Desk {width} cm, {wood}", 34999 + width * 150
            tag = "desk"
            size = {"width_cm": width, "depth_cm": 80, "height_cm": "65-130"}
        elif kind == 1:
            title, cents, tag = f"{brand} Ergonomic Office Chair, Mesh Back", 24999, "chair"
            size = {"width_cm": 66, "depth_cm": 64, "height_cm": "112-124", "max_load_kg": 150}
        elif kind == 2:
            shelves = r.choice([3, 4, 5])
            title, cents = f"{brand} {wood} Bookshelf, {shelves} Shelves", 12999 + shelves * 2000
            tag = "bookshelf"
            size = {"width_cm": 80, "depth_cm": 30, "height_cm": 40 * shelves + 20}
        else:
            seats = r.choice([2, 3])
            title, cents = f"{brand} {seats}-Seater Sofa, Boucle", 69999 + seats * 15000
            tag = "sofa"
            size = {"width_cm": 90 * seats + 30, "depth_cm": 95, "height_cm": 80, "seats": seats}
        yield Draft(
            title=title,
            brand=brand,
            cents=price(cents * r.uniform(0.9, 1.15)),
            tags=["furniture", "home", tag],
            description=(
                f"{title}. Solid {wood.lower()} and steel, delivered flat-packed with every tool "
                "you need; assembly takes under an hour."
            ),
            attributes={"material": wood, **size, "assembly_required": True},
        )


def _clothes(
    r: Random, brands: list[str], items: list[tuple[str, int, str]], audience: str
) -> Iterator[Draft]:
    for n in count():
        brand = r.choice(brands)
        name, cents, material = items[n % len(items)]
        colors = sorted(r.sample(COLORS, 3))
        sizes = LETTER_SIZES[1:] if audience == "men" else LETTER_SIZES[:-1]
        if "Jeans" in name:
            sizes = [str(w) for w in (range(28, 40, 2) if audience == "men" else range(24, 34, 2))]
        fit = r.choice(["Regular", "Slim", "Relaxed"])
        yield Draft(
            title=f"{brand} {fit} {name}",
            brand=brand,
            cents=price(cents * r.uniform(0.9, 1.3)),
            tags=["clothing", audience, name.split()[-1].lower()],
            description=(
                f"A {fit.lower()}-fit {name.lower()} in {material.lower()}, available in "
                f"{', '.join(c.lower() for c in colors)}. Machine washable at 30 degrees."
            ),
            attributes={"sizes": sizes, "colors": colors, "material": material, "fit": fit},
        )


def mens_clothing(r: Random) -> Iterator[Draft]:
    """Shirts, tees, jeans, hoodies and jackets for men."""
    items = [
        ("Oxford Shirt", 4999, "100% cotton"),
        ("Crew Neck T-Shirt", 1999, "Organic cotton"),
        ("Selvedge Jeans", 8999, "98% cotton, 2% elastane"),
        ("Zip Hoodie", 5999, "Cotton fleece"),
        ("Waxed Field Jacket", 17999, "Waxed cotton"),
    ]
    yield from _clothes(r, ["Fieldmark", "Harbor & Pine", "Northline"], items, "men")


def womens_clothing(r: Random) -> Iterator[Draft]:
    """Dresses, blouses, jeans, sweaters and coats for women."""
    items = [
        ("Wrap Dress", 7999, "Viscose"),
        ("Silk Blouse", 8999, "100% mulberry silk"),
        ("High-Rise Jeans", 7999, "99% cotton, 1% elastane"),
        ("Merino Sweater", 9999, "Extra-fine merino wool"),
        ("Wool Coat", 24999, "80% wool, 20% polyamide"),
    ]
    yield from _clothes(r, ["Maison Ardelle", "Wren & Co", "Solenne"], items, "women")


def footwear(r: Random) -> Iterator[Draft]:
    """Running shoes, trail shoes, boots and sneakers with EU sizes."""
    kinds: list[tuple[str, int, str, dict[str, Any]]] = [
        ("Road Running Shoe", 12999, "running", {"drop_mm": 8, "weight_g": 250}),
        ("Trail Running Shoe", 14999, "trail", {"drop_mm": 6, "weight_g": 290, "lug_mm": 5}),
        ("Leather Chelsea Boot", 16999, "boots", {"upper": "Full-grain leather", "weight_g": 520}),
        ("Canvas Sneaker", 6999, "sneakers", {"upper": "Organic canvas", "weight_g": 340}),
    ]
    for n in count():
        brand = r.choice(["Stride Lab", "Trailform", "Pacer"])
        name, cents, tag, extra = kinds[n % len(kinds)]
        model = r.choice(["Tempo", "Ridge", "Atlas", "Comet", "Harbor"])
        colors = sorted(r.sample(COLORS, 2))
        yield Draft(
            title=f"{brand} {model} {name}",
            brand=brand,
            cents=price(cents * r.uniform(0.9, 1.2)),
            tags=["footwear", "shoes", tag],
            description=(
                f"The {model} {name.lower()} from {brand}: cushioned, durable and true to size. "
                f"Comes in {' and '.join(c.lower() for c in colors)}."
            ),
            attributes={"sizes_eu": list(range(38, 47)), "colors": colors, **extra},
        )


def sports_outdoors(r: Random) -> Iterator[Draft]:
    """Tents, sleeping bags, backpacks, mats and weights."""
    for n in count():
        brand = r.choice(["Summit Gear", "Alpenfox", "Ridgeline"])
        kind = n % 5
        if kind == 0:
            people = r.choice([1, 2, 3, 4])
            title, cents = f"{brand} {people}-Person Backpacking Tent", 15999 + people * 5000
            weight = round(0.9 + people * 0.5, 1)
            attributes = {"persons": people, "season": "3-season", "weight_kg": weight}
            tag = "tent"
        elif kind == 1:
            comfort = r.choice([-10, -5, 0, 5])
            title, cents = f"{brand} Down Sleeping Bag, Comfort {comfort} C", 19999 - comfort * 800
            attributes = {"comfort_c": comfort, "fill": "700 fill power down"}
            tag = "sleeping-bag"
        elif kind == 2:
            litres = r.choice([20, 30, 45, 65])
            title, cents = f"{brand} Hiking Backpack {litres} L", 6999 + litres * 150
            attributes = {"volume_l": litres, "rain_cover": litres >= 30}
            tag = "backpack"
        elif kind == 3:
            mm = r.choice([4, 6, 8])
            title, cents = f"{brand} Non-Slip Yoga Mat {mm} mm", 2999 + mm * 300
            attributes = {"thickness_mm": mm, "material": "Natural rubber", "length_cm": 183}
            tag = "yoga"
        else:
            kg = r.choice([2, 5, 10, 20])
            title, cents = f"{brand} Hex Dumbbell {kg} kg (single)", 1499 + kg * 250
            attributes = {"weight_kg": kg, "material": "Rubber-coated steel"}
            tag = "weights"
        yield Draft(
            title=title,
            brand=brand,
            cents=price(cents * r.uniform(0.9, 1.2)),
            tags=["sports", "outdoors" if kind < 3 else "fitness", tag],
            description=f"{title}. Made for weekends outside and daily training alike.",
            attributes=attributes,
        )
