"""Deterministic synthetic shop data: a line-item frame, daily sessions and planted anomalies.

``generate_demo(lines, seed, end)`` simulates about 16 years of a UK-based online shop selling
to 37 countries, ending on ``end`` (default ``DEFAULT_END``, a fixed date, so the data never
depends on today's date). The same ``(lines, seed, end)`` always gives the same frames, and
the line-item frame has exactly ``lines`` rows.

How it is simulated (all vectorised numpy, no loop over rows):

1. **Calendar.** Every day gets a seasonal weight: day of week × time of year × holidays
   (Black Friday, Cyber Monday, the Christmas run-up, Boxing Day; quiet Christmas Day).
2. **Customers** arrive with a growing acquisition rate (a logistic curve over the years,
   itself seasonal). Each has a purchase rate (gamma: heavy-tailed order counts), a lifetime
   after which they are inactive (exponential with a gamma-distributed mean: churn with a
   hazard), a country and city, a favourite category and a home channel.
3. **Orders**: the first at acquisition, the others a Poisson process with the customer's
   rate, run on the seasonal clock (so repeat orders follow the seasons too) until the
   customer churns or history ends. Each order gets a channel (the app and the marketplace
   launch a few years in), device, traffic source (acquisition orders come more from paid
   search and social, repeat orders from direct and e-mail), payment method, basket size
   (1–10; its mean depends on channel and source: different AOV profiles) and a time of day
   inside the channel's opening hours.
4. **Lines**: a category per line (seasonal mix, or the customer's favourite), a product
   within it by popularity, planted product pairs (``PLANTED_PAIRS``), a quantity, a price
   (list price with inflation and promotions) and the unit cost (margins by category).
5. **Anomalies** (``DemoData.anomalies``): a bulk order, an app outage, a price error and an
   e-mail campaign, on days of the last year chosen by the seed.
6. **Returns** (2.5 % of lines: cancellation invoices ``C…``, same product and price, after
   the sale), guest checkouts (no customer id), free-gift lines at price 0 and "bad debt"
   adjustments at a negative price (invoices ``A…``).
7. **Sessions** per day × country × channel × device × traffic source: the orders of that
   cell plus non-converting sessions drawn around the expected traffic, so conversion is
   2–4 % overall and sessions ≥ orders in every cell.
8. **Ad spend** (``DemoData.ad_spend``) over the last two years: Google Ads, Meta Ads and
   Email (``AD_CHANNELS``, 19 campaigns), each channel's daily spend following the revenue
   of the orders attributed to it (its traffic source) at a target ROAS, split over its
   campaigns with their own CPC, CTR and platform-reported ROAS. One campaign's ROAS
   collapses over the last 21 days (``DemoData.ad_anomaly``). Drawn from the finished line
   items with a generator of its own, so the lines and sessions are the same with or without
   it.

See ``docs/demo-data.md`` for the full description, the planted pairs and anomalies.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics import schema
from analytics.errors import InvalidInput
from analytics.period import minus_years

log = logging.getLogger(__name__)

#: The last day of the demo history unless ``end`` is given (fixed: results never depend on
#: the day the generator runs).
DEFAULT_END = dt.date(2025, 12, 31)
HISTORY_YEARS = 16
MIN_LINES = 2_000
LINES_PER_CUSTOMER = 20          # 1M lines → 50k customers
RETURN_LINE_SHARE = 0.025
FREE_GIFT_LINE_SHARE = 0.0005
BAD_DEBT_LINE_SHARE = 0.0001
GUEST_SHARE_OF_ONE_TIME_BUYERS = 0.06
FIRST_INVOICE_NUMBER = 100_001
FIRST_CUSTOMER_NUMBER = 10_001
ORDER_MARGIN = 1.10              # orders simulated beyond the budget, trimmed at random

_US_PER_DAY = 86_400_000_000
_US_PER_SECOND = 1_000_000


class DemoDataError(InvalidInput):
    """The demo data cannot be generated with these arguments; the message says why."""


@dataclass(frozen=True)
class DemoData:
    """Synthetic shop data.

    * ``lines``: the line-item frame, exactly ``analytics.schema.LINE_COLUMNS`` with their
      dtypes, sorted by ``invoice_ts`` then invoice id.
    * ``sessions``: exactly ``analytics.schema.SESSION_COLUMNS``: one row per day, country,
      channel, device and traffic source with at least one session. Store visits have
      ``device`` and ``traffic_source`` <NA>. Summing ``sessions`` under any filter gives the
      sessions of that slice.
    * ``anomalies``: one dict per planted anomaly with ``name``, ``kind`` ("spike"/"drop"),
      ``metric``, ``start`` and ``end`` (``datetime.date``, inclusive), ``dimensions``
      (line-item column → value, the slice that accounts for the deviation), ``magnitude``
      (the metric in that slice over the anomaly days ÷ its expected value from the 28 days
      before), ``expected`` and ``observed`` (the metric in that slice, summed over the days)
      and ``description``.
    """

    lines: pd.DataFrame
    sessions: pd.DataFrame
    anomalies: list[dict]
    #: exactly ``analytics.schema.AD_COLUMNS``: one row per day × ad channel × campaign
    ad_spend: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(schema.AD_COLUMNS)))
    #: the planted campaign whose ROAS collapses: channel, campaign, start, end, the
    #: platform ROAS of the 28 days before and of the collapse, and a description
    ad_anomaly: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- reference data
#: (name as the shop writes it, ISO 3166-1 alpha-2, share of customers, real cities)
COUNTRIES: tuple[tuple[str, str, float, tuple[str, ...]], ...] = (
    ("United Kingdom", "GB", 40.0, ("London", "Manchester", "Birmingham", "Leeds", "Glasgow",
                                    "Bristol")),
    ("Germany", "DE", 9.0, ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt")),
    ("France", "FR", 7.0, ("Paris", "Lyon", "Marseille", "Toulouse", "Lille")),
    ("EIRE", "IE", 4.0, ("Dublin", "Cork", "Galway")),
    ("Netherlands", "NL", 4.0, ("Amsterdam", "Rotterdam", "Utrecht", "The Hague")),
    ("Spain", "ES", 3.5, ("Madrid", "Barcelona", "Valencia", "Seville")),
    ("Italy", "IT", 3.0, ("Rome", "Milan", "Turin", "Naples")),
    ("USA", "US", 3.0, ("New York", "Los Angeles", "Chicago", "Houston", "Seattle",
                        "Boston")),
    ("Belgium", "BE", 2.5, ("Brussels", "Antwerp", "Ghent")),
    ("Switzerland", "CH", 2.2, ("Zurich", "Geneva", "Basel")),
    ("Austria", "AT", 1.8, ("Vienna", "Graz", "Salzburg")),
    ("Sweden", "SE", 1.8, ("Stockholm", "Gothenburg", "Malmö")),
    ("Portugal", "PT", 1.5, ("Lisbon", "Porto")),
    ("Poland", "PL", 1.5, ("Warsaw", "Kraków", "Wrocław", "Gdańsk")),
    ("Norway", "NO", 1.4, ("Oslo", "Bergen")),
    ("Denmark", "DK", 1.4, ("Copenhagen", "Aarhus")),
    ("Australia", "AU", 1.3, ("Sydney", "Melbourne", "Brisbane", "Perth")),
    ("Canada", "CA", 1.2, ("Toronto", "Vancouver", "Montreal")),
    ("Finland", "FI", 1.0, ("Helsinki", "Espoo", "Tampere")),
    ("Czech Republic", "CZ", 0.9, ("Prague", "Brno")),
    ("Japan", "JP", 0.8, ("Tokyo", "Osaka", "Yokohama")),
    ("Greece", "GR", 0.7, ("Athens", "Thessaloniki")),
    ("Hungary", "HU", 0.6, ("Budapest", "Debrecen")),
    ("Romania", "RO", 0.6, ("Bucharest", "Cluj-Napoca")),
    ("United Arab Emirates", "AE", 0.6, ("Dubai", "Abu Dhabi", "Sharjah")),
    ("Israel", "IL", 0.5, ("Tel Aviv", "Jerusalem", "Haifa")),
    ("Luxembourg", "LU", 0.5, ("Luxembourg", "Esch-sur-Alzette")),
    ("Cyprus", "CY", 0.4, ("Nicosia", "Limassol")),
    ("Lithuania", "LT", 0.4, ("Vilnius", "Kaunas")),
    ("Brazil", "BR", 0.4, ("São Paulo", "Rio de Janeiro")),
    ("RSA", "ZA", 0.4, ("Johannesburg", "Cape Town", "Durban")),
    ("Malta", "MT", 0.3, ("Valletta", "Sliema")),
    ("New Zealand", "NZ", 0.3, ("Auckland", "Wellington")),
    ("Saudi Arabia", "SA", 0.3, ("Riyadh", "Jeddah")),
    ("South Korea", "KR", 0.3, ("Seoul", "Busan", "Incheon")),
    ("Mexico", "MX", 0.3, ("Mexico City", "Guadalajara", "Monterrey")),
    ("Iceland", "IS", 0.2, ("Reykjavík", "Akureyri")),
)


@dataclass(frozen=True)
class _Category:
    name: str
    demand: float            # share of line demand
    median_price: float      # median list price today
    margin: float            # typical (price − cost) ÷ price
    return_factor: float     # relative chance that a line is returned
    season: tuple[float, ...]  # demand factor by month, January first
    nouns: tuple[str, ...]
    attributes: tuple[str, ...]
    variants: tuple[str, ...]


_FLAT = (1.0,) * 12
CATEGORIES: tuple[_Category, ...] = (
    _Category("Electronics", 0.12, 65.0, 0.15, 1.2, (0.9, 0.8, 0.85, 0.9, 0.9, 0.9, 0.95, 0.95,
                                                    1.0, 1.05, 1.3, 1.5),
              ("Wireless Earbuds", "Bluetooth Speaker", "USB-C Charger", "Power Bank",
               "Smart Watch", "Fitness Tracker", "HDMI Cable", "Wireless Mouse",
               "Mechanical Keyboard", "Webcam", "Noise Cancelling Headphones", "Portable SSD",
               "Phone Case", "Screen Protector", "Tablet Stand", "LED Desk Lamp"),
              ("Pro", "Compact", "Ultra", "Slim", "Classic", "Travel", "Gaming", "Essential"),
              ("Black", "White", "Silver", "Blue")),
    _Category("Home & Kitchen", 0.14, 28.0, 0.40, 0.8, _FLAT,
              ("Coffee Mug", "Chef's Knife", "Cutting Board", "Frying Pan", "Saucepan Set",
               "Tea Towel Set", "Storage Jar", "Water Bottle", "Cushion Cover", "Scented Candle",
               "Photo Frame", "Wall Clock", "Table Lamp", "Throw Blanket", "Bath Towel",
               "Lunch Box", "Kettle", "Toaster"),
              ("Ceramic", "Stainless Steel", "Bamboo", "Enamel", "Vintage", "Nordic", "Rustic",
               "Modern"),
              ("Grey", "Cream", "Sage Green", "Navy")),
    _Category("Fashion", 0.13, 32.0, 0.55, 2.6, (1.15, 0.85, 0.95, 1.0, 1.0, 1.05, 1.1, 0.95,
                                                 1.0, 1.0, 1.0, 1.0),
              ("T-Shirt", "Hoodie", "Jeans", "Chinos", "Summer Dress", "Wool Jumper",
               "Rain Jacket", "Scarf", "Beanie", "Leather Belt", "Socks 5-Pack", "Pyjama Set",
               "Blouse", "Shorts", "Cardigan"),
              ("Organic Cotton", "Slim Fit", "Relaxed", "Oversized", "Classic", "Merino",
               "Linen", "Recycled"),
              ("Size S", "Size M", "Size L", "Size XL")),
    _Category("Shoes", 0.06, 55.0, 0.45, 2.2, _FLAT,
              ("Running Shoes", "Trainers", "Chelsea Boots", "Sandals", "Slippers", "Loafers",
               "Hiking Boots", "Ballet Flats", "Wellington Boots", "Canvas Sneakers"),
              ("Lightweight", "Leather", "Suede", "Waterproof", "Vegan", "Classic", "Trail",
               "Comfort"),
              ("EU 38", "EU 40", "EU 42", "EU 44")),
    _Category("Beauty", 0.09, 14.0, 0.60, 0.4, (0.95, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95,
                                                1.0, 1.0, 1.1, 1.3),
              ("Face Cream", "Lip Balm", "Shampoo", "Conditioner", "Body Lotion",
               "Hand Cream", "Eau de Toilette", "Face Serum", "Sun Cream SPF 50",
               "Bath Bomb Set", "Nail Polish", "Mascara", "Cleansing Oil"),
              ("Hydrating", "Organic", "Sensitive", "Repairing", "Vitamin C", "Rose",
               "Aloe Vera", "Fragrance-Free"),
              ("50 ml", "100 ml", "200 ml", "Travel Size")),
    _Category("Sports & Outdoors", 0.08, 38.0, 0.35, 1.0, (1.3, 1.05, 1.0, 1.05, 1.1, 1.1,
                                                           1.05, 1.0, 0.95, 0.85, 0.85, 0.9),
              ("Yoga Mat", "Dumbbell Set", "Resistance Bands", "Skipping Rope", "Cycling Gloves",
               "Sports Bottle", "Head Torch", "Trekking Poles", "Gym Bag", "Foam Roller",
               "Tennis Balls", "Swimming Goggles", "Backpack 30L"),
              ("Pro", "Lightweight", "Foldable", "Adjustable", "Outdoor", "Team", "Eco",
               "Performance"),
              ("Black", "Red", "Blue", "Green")),
    _Category("Toys & Games", 0.07, 22.0, 0.38, 0.7, (0.6, 0.6, 0.7, 0.75, 0.75, 0.8, 0.8, 0.8,
                                                      0.85, 1.0, 1.8, 3.2),
              ("Building Blocks", "Jigsaw Puzzle 1000 pcs", "Board Game", "Plush Bear",
               "Toy Car", "Doll House", "Craft Kit", "Card Game", "Wooden Train Set",
               "Science Kit", "Kite", "Marble Run"),
              ("Classic", "Deluxe", "Junior", "Family", "Travel", "Eco", "Mini", "Giant"),
              ("Age 3+", "Age 6+", "Age 8+", "Age 12+")),
    _Category("Books", 0.06, 12.0, 0.25, 0.3, (1.05, 0.9, 0.9, 0.9, 0.9, 0.95, 1.05, 1.05,
                                               0.95, 1.0, 1.1, 1.4),
              ("Cookbook", "Crime Novel", "Travel Guide", "Children's Picture Book",
               "Garden Handbook", "Biography", "Science Fiction Novel", "Puzzle Book",
               "History of Europe", "Self-Help Guide", "Poetry Anthology", "Art Book"),
              ("Paperback", "Hardcover", "Illustrated", "Pocket", "Collector's",
               "Large Print", "Signed", "Anniversary"),
              ("Vol. 1", "Vol. 2", "Vol. 3", "Special Edition")),
    _Category("Garden", 0.06, 26.0, 0.35, 0.6, (0.5, 0.6, 1.0, 1.6, 1.8, 1.6, 1.3, 1.1, 0.9,
                                                0.7, 0.5, 0.6),
              ("Plant Pot", "Watering Can", "Pruning Shears", "Bird Feeder", "Garden Gloves",
               "Solar Lights", "Hose Reel", "Seed Collection", "Raised Bed", "Compost Bin",
               "Deck Chair", "Parasol"),
              ("Terracotta", "Galvanised", "Weatherproof", "Folding", "Cottage", "Heavy Duty",
               "Mini", "Premium"),
              ("Small", "Medium", "Large", "Set of 3")),
    _Category("Grocery", 0.07, 6.0, 0.20, 0.1, (1.0, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95,
                                                1.0, 1.0, 1.1, 1.4),
              ("Loose Leaf Tea", "Dark Chocolate", "Olive Oil", "Granola", "Honey",
               "Ground Coffee", "Shortbread", "Pasta Sauce", "Mixed Nuts", "Hot Chocolate",
               "Jam", "Sea Salt"),
              ("Organic", "Fairtrade", "Artisan", "Italian", "Scottish", "Spiced", "Classic",
               "Gluten-Free"),
              ("250 g", "500 g", "1 kg", "Gift Tin")),
    _Category("Jewellery", 0.05, 45.0, 0.65, 1.4, (0.9, 1.4, 0.9, 0.9, 1.0, 0.9, 0.9, 0.9,
                                                   0.9, 1.0, 1.2, 1.7),
              ("Pendant Necklace", "Stud Earrings", "Charm Bracelet", "Signet Ring",
               "Hoop Earrings", "Anklet", "Cufflinks", "Brooch", "Chain Necklace",
               "Watch Strap"),
              ("Sterling Silver", "Gold Plated", "Rose Gold", "Pearl", "Minimalist", "Vintage",
               "Birthstone", "Engraved"),
              ("Gift Boxed", "Small", "Medium", "Large")),
    _Category("Pet Supplies", 0.07, 18.0, 0.30, 0.5, _FLAT,
              ("Dog Lead", "Cat Scratcher", "Dog Bed", "Pet Bowl", "Chew Toy", "Cat Toy Mice",
               "Grooming Brush", "Dog Treats", "Cat Food Pouches", "Pet Carrier",
               "Aquarium Filter", "Bird Seed"),
              ("Durable", "Natural", "Reflective", "Orthopaedic", "Grain-Free", "Calming",
               "Travel", "Deluxe"),
              ("Small", "Medium", "Large", "Value Pack")),
)
PRODUCT_COUNT = 4_000

#: Product pairs bought together far more often than chance: when the first is in a basket,
#: the second is added with probability ``PAIR_PROBABILITY``. (category, description) each.
PLANTED_PAIRS: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    (("Home & Kitchen", "Espresso Machine, Stainless Steel"),
     ("Grocery", "Espresso Coffee Beans, 1 kg")),
    (("Electronics", "Laser Printer, Mono"), ("Electronics", "Toner Cartridge, Black")),
    (("Sports & Outdoors", "Camping Tent, 4-Person"),
     ("Sports & Outdoors", "Sleeping Bag, 3-Season")),
    (("Pet Supplies", "Cat Litter Tray, Large"), ("Pet Supplies", "Clumping Cat Litter, 10 kg")),
)
PLANTED_LIST_PRICES = {
    "Espresso Machine, Stainless Steel": 249.99, "Espresso Coffee Beans, 1 kg": 14.99,
    "Laser Printer, Mono": 179.99, "Toner Cartridge, Black": 59.99,
    "Camping Tent, 4-Person": 149.99, "Sleeping Bag, 3-Season": 49.99,
    "Cat Litter Tray, Large": 14.99, "Clumping Cat Litter, 10 kg": 9.99,
}
PAIR_PROBABILITY = 0.6
PAIR_PRODUCT_SHARE = 0.03    # each pair product's share of its category's demand

CHANNELS = ("Web", "Mobile App", "Marketplace", "Store")
WEB, APP, MARKETPLACE, STORE = range(4)
CHANNEL_SHARE = np.array([0.55, 0.25, 0.12, 0.08])
MARKETPLACE_LAUNCH_YEARS = 3.0   # after the start of history
APP_LAUNCH_YEARS = 5.5
HOME_CHANNEL_LOYALTY = 0.75

DEVICES = ("Desktop", "Mobile", "Tablet")          # index 3 = none (store)
DEVICE_BY_CHANNEL = np.array([
    [0.50, 0.40, 0.10, 0.0],    # Web
    [0.00, 0.85, 0.15, 0.0],    # Mobile App
    [0.45, 0.55, 0.00, 0.0],    # Marketplace
    [0.00, 0.00, 0.00, 1.0],    # Store: no device
])
DEVICE_CONVERSION = np.array([1.25, 0.75, 1.0, 1.0])

TRAFFIC_SOURCES = ("Organic Search", "Paid Search", "Direct", "Email", "Social", "Referral")
EMAIL = TRAFFIC_SOURCES.index("Email")
#: P(source | channel, first order) and P(source | channel, repeat order); column 6 = none
SOURCE_FIRST_ORDER = np.array([
    [0.30, 0.30, 0.08, 0.02, 0.20, 0.10, 0.0],
    [0.00, 0.35, 0.20, 0.05, 0.40, 0.00, 0.0],
    [0.60, 0.30, 0.10, 0.00, 0.00, 0.00, 0.0],
    [0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 1.0],
])
SOURCE_REPEAT_ORDER = np.array([
    [0.22, 0.13, 0.30, 0.22, 0.06, 0.07, 0.0],
    [0.00, 0.10, 0.50, 0.25, 0.15, 0.00, 0.0],
    [0.55, 0.25, 0.20, 0.00, 0.00, 0.00, 0.0],
    [0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 1.0],
])
SOURCE_CONVERSION = np.array([0.028, 0.030, 0.045, 0.055, 0.012, 0.030, 1.0])
CHANNEL_CONVERSION = np.array([1.0, 1.6, 1.5, 1.0])
STORE_CONVERSION = 0.22                   # store visits that end in a purchase
SOURCE_BASKET_FACTOR = np.array([1.0, 0.95, 1.1, 1.25, 0.8, 1.0, 1.0])
CHANNEL_MEAN_BASKET = np.array([3.0, 2.6, 1.8, 3.4])

PAYMENT_METHODS = ("Card", "PayPal", "Apple Pay", "Google Pay", "Klarna", "Gift Card",
                   "Cash", "Marketplace Payments", "Bank Transfer")
PAYMENT_BY_CHANNEL = np.array([
    [0.50, 0.25, 0.07, 0.05, 0.10, 0.03, 0.00, 0.00, 0.00],
    [0.30, 0.15, 0.30, 0.20, 0.03, 0.02, 0.00, 0.00, 0.00],
    [0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 1.00, 0.00],
    [0.62, 0.00, 0.12, 0.06, 0.00, 0.05, 0.15, 0.00, 0.00],
])

#: Share of orders by hour of day; online orders 07:00–23:59, the store 09:00–19:59
#: (Sunday 10:00–15:59).
ONLINE_HOURS = np.array([0, 0, 0, 0, 0, 0, 0, 2, 3.5, 4.5, 5, 5.5, 6.5, 6, 5.5, 5, 5, 5.5,
                         6, 7, 8.5, 9, 7.5, 4.5], dtype=float)
STORE_HOURS = np.array([0] * 9 + [3, 5, 7, 9, 8.5, 7, 7, 7.5, 9, 8, 5] + [0] * 4, dtype=float)
STORE_SUNDAY_HOURS = np.array([0] * 10 + [6, 9, 10, 9, 8, 7] + [0] * 8, dtype=float)
STORE_CLOSED = ((12, 25), (12, 26), (1, 1))

BULK_CATEGORY = "Home & Kitchen"
WEEKDAY_FACTOR = np.array([1.05, 1.0, 1.0, 1.02, 0.95, 0.85, 1.08])   # Monday first
INFLATION_PER_YEAR = 0.025


@dataclass(frozen=True)
class _Catalog:
    product_ids: np.ndarray      # object array of str
    descriptions: np.ndarray
    category: np.ndarray         # category index per product (products sorted by category)
    list_price: np.ndarray       # price on the last day
    unit_cost: np.ndarray        # cost on the last day
    weight_cumsum: np.ndarray    # cumulative popularity, products in catalog order
    category_start: np.ndarray   # cumulative popularity before each category's first product
    category_weight: np.ndarray  # total popularity of each category
    pairs: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Calendar:
    start: dt.date
    days: int
    weight: np.ndarray           # seasonal demand weight per day
    clock: np.ndarray            # cumulative weight, days + 1 entries (the seasonal clock)
    month: np.ndarray            # 1..12
    day_of_month: np.ndarray
    weekday: np.ndarray          # 0 = Monday
    year_index: np.ndarray       # 0.. calendar years since the start year
    holiday_sale: np.ndarray     # Black Friday … Cyber Monday


@dataclass
class _Orders:
    """Column arrays of orders (one entry per invoice of a purchase)."""

    customer: np.ndarray
    day: np.ndarray
    second: np.ndarray           # second of the day
    channel: np.ndarray
    device: np.ndarray           # 3 = none
    source: np.ndarray           # 6 = none
    payment: np.ndarray
    basket: np.ndarray           # number of lines
    forced_category: np.ndarray  # -1 = none
    price_factor: np.ndarray
    quantity_factor: np.ndarray

    def __len__(self) -> int:
        return len(self.day)

    def take(self, index: np.ndarray) -> _Orders:
        return _Orders(**{name: values[index] for name, values in vars(self).items()})

    @staticmethod
    def concat(parts: list[_Orders]) -> _Orders:
        return _Orders(**{name: np.concatenate([vars(p)[name] for p in parts])
                          for name in vars(parts[0])})


# ----------------------------------------------------------------------------- public API
def generate_demo(lines: int = 1_000_000, seed: int = 42,
                  end: dt.date | None = None) -> DemoData:
    """Generate the demo data set: exactly ``lines`` line items over the 16 years up to
    ``end`` (default ``DEFAULT_END``), the matching daily sessions and the planted anomalies.

    Deterministic: the same arguments give identical frames. Raises ``DemoDataError`` for
    impossible arguments.
    """
    if isinstance(lines, bool) or not isinstance(lines, (int, np.integer)):
        raise DemoDataError(f"lines must be a whole number, not {lines!r}")
    if lines < MIN_LINES:
        raise DemoDataError(f"The demo needs at least {MIN_LINES:,} lines (asked for {lines:,}).")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DemoDataError(f"seed must be a non-negative whole number, not {seed!r}")
    end = DEFAULT_END if end is None else end
    if isinstance(end, dt.datetime):
        end = end.date()
    if not isinstance(end, dt.date):
        raise DemoDataError(f"end must be a date, not {end!r}")
    margin = ORDER_MARGIN
    for _attempt in range(5):
        result = _generate(int(lines), int(seed), end, margin)
        if result is not None:
            ad_spend, ad_anomaly = _make_ad_spend(result.lines, seed, end)
            result = replace(result, ad_spend=ad_spend, ad_anomaly=ad_anomaly)
            log.info("generated %s demo lines and %s session rows (seed %s, ending %s)",
                     len(result.lines), len(result.sessions), seed, end)
            return result
        margin *= 1.25   # rare: the simulation fell short of the line budget, simulate more
    raise DemoDataError(f"Could not simulate {lines:,} lines with seed {seed}; "
                        "try another seed or size.")


# ----------------------------------------------------------------------------- simulation
def _generate(total_lines: int, seed: int, end: dt.date, margin: float) -> DemoData | None:
    rng = np.random.default_rng([seed, 20_251_231])
    calendar = _make_calendar(end)
    catalog = _make_catalog()
    fixed_lines = {
        "returns": round(RETURN_LINE_SHARE * total_lines),
        "free_gifts": max(3, round(FREE_GIFT_LINE_SHARE * total_lines)),
        "bad_debt": max(2, round(BAD_DEBT_LINE_SHARE * total_lines)),
    }
    sale_budget = total_lines - sum(fixed_lines.values())
    mean_basket = float(np.average(CHANNEL_MEAN_BASKET, weights=CHANNEL_SHARE))
    n_customers = max(100, round(total_lines / LINES_PER_CUSTOMER))
    customers = _make_customers(rng, calendar, n_customers)
    target_orders = sale_budget / mean_basket * margin
    orders, expected_daily = _simulate_orders(rng, calendar, customers, target_orders)
    # the anomalies depend on the seed and the end only, not on the size of the data set
    plan = _plan_anomalies(np.random.default_rng([seed, 7]), calendar)

    outage = plan["outage"]
    in_outage = ((orders.channel == APP) & (orders.day >= outage["start"])
                 & (orders.day <= outage["end"]))
    dropped = in_outage & (rng.random(len(orders)) < outage["loss"])
    orders = orders.take(np.flatnonzero(~dropped))

    keep_share_estimate = sale_budget / max(1, int(orders.basket.sum()))
    expected_daily = expected_daily * min(1.0, keep_share_estimate)
    injected = _injected_orders(rng, calendar, customers, orders, plan, expected_daily)
    organic_budget = sale_budget - int(injected.basket.sum())
    if organic_budget <= 0 or int(orders.basket.sum()) < organic_budget:
        return None
    orders = _trim_to_budget(rng, orders, organic_budget)
    n_organic = len(orders)
    orders = _Orders.concat([orders, injected])
    customers["guest"] = _pick_guests(rng, customers, orders)
    customers["guest"][orders.customer[n_organic:]] = False

    sale = _make_lines(rng, calendar, catalog, customers, orders)
    _apply_price_error(sale, orders, plan["price_error"])
    _size_bulk_order(customers, sale, orders, plan["bulk"], n_organic)
    extra = _returns_and_adjustments(rng, calendar, catalog, customers, orders, sale,
                                     fixed_lines, n_organic)
    # sessions and anomalies first: their temporaries are gone before the big frame exists
    sessions = _make_sessions(rng, calendar, customers, orders, n_organic, expected_daily,
                              plan)
    anomalies = _describe_anomalies(calendar, customers, orders, sale, plan)
    frame = _assemble_lines(calendar, catalog, customers, orders, sale, extra)
    assert len(frame) == total_lines, (len(frame), total_lines)
    return DemoData(lines=frame, sessions=sessions, anomalies=anomalies)


def _make_calendar(end: dt.date) -> _Calendar:
    start = minus_years(end, HISTORY_YEARS) + dt.timedelta(days=1)
    days = (end - start).days + 1
    dates = pd.date_range(start, periods=days, freq="D")
    month = dates.month.to_numpy()
    day_of_month = dates.day.to_numpy()
    weekday = dates.weekday.to_numpy()
    year_index = dates.year.to_numpy() - start.year
    day_of_year = dates.dayofyear.to_numpy()

    yearly = 1.0 + 0.10 * np.cos(2 * np.pi * (day_of_year - 350) / 365.25)
    holiday = np.ones(days)
    december = month == 12
    holiday[december & (day_of_month <= 18)] = 1.35
    holiday[december & (day_of_month >= 19) & (day_of_month <= 23)] = 1.2
    holiday[december & (day_of_month == 24)] = 0.6
    holiday[december & (day_of_month == 25)] = 0.15
    holiday[december & (day_of_month == 26)] = 1.8
    holiday[december & (day_of_month >= 27)] = 1.2
    holiday[(month == 1) & (day_of_month == 1)] = 0.5
    holiday_sale = np.zeros(days, dtype=bool)
    black_friday_factors = {-1: 1.2, 0: 3.5, 1: 1.7, 2: 1.6, 3: 2.5}   # Thursday … Monday
    for year in range(start.year, end.year + 1):
        november_first = dt.date(year, 11, 1)
        thanksgiving = november_first + dt.timedelta(
            days=(3 - november_first.weekday()) % 7 + 21)
        black_friday = (thanksgiving + dt.timedelta(days=1) - start).days
        for offset, factor in black_friday_factors.items():
            day = black_friday + offset
            if 0 <= day < days:
                holiday[day] = factor
                holiday_sale[day] = offset >= 0
    weight = WEEKDAY_FACTOR[weekday] * yearly * holiday
    clock = np.concatenate([[0.0], np.cumsum(weight)])
    return _Calendar(start=start, days=days, weight=weight, clock=clock, month=month,
                     day_of_month=day_of_month, weekday=weekday, year_index=year_index,
                     holiday_sale=holiday_sale)


def _make_catalog() -> _Catalog:
    """The product catalogue: fixed (independent of the seed), so product ids are stable."""
    rng = np.random.default_rng(4_000)
    ids, descriptions, categories, prices, costs, weights = [], [], [], [], [], []
    pair_descriptions = {}
    for first, second in PLANTED_PAIRS:
        pair_descriptions.setdefault(first[0], []).append(first[1])
        pair_descriptions.setdefault(second[0], []).append(second[1])
    # the product range of a category is a share of all its name combinations
    combinations = np.array([len(c.nouns) * len(c.attributes) * len(c.variants)
                             for c in CATEGORIES])
    counts = np.floor(PRODUCT_COUNT * combinations / combinations.sum()).astype(int)
    counts[np.argmax(counts)] += PRODUCT_COUNT - counts.sum()
    for index, category in enumerate(CATEGORIES):
        planted = pair_descriptions.get(category.name, [])
        combos = [f"{attribute} {noun}, {variant}" for noun in category.nouns
                  for attribute in category.attributes for variant in category.variants]
        chosen = rng.choice(len(combos), size=counts[index] - len(planted), replace=False)
        names = planted + [combos[i] for i in np.sort(chosen)]
        popularity = rng.lognormal(0.0, 1.1, size=len(names))
        popularity[:len(planted)] = 0.0
        popularity *= (1 - PAIR_PRODUCT_SHARE * len(planted)) / popularity.sum()
        popularity[:len(planted)] = PAIR_PRODUCT_SHARE
        price = category.median_price * rng.lognormal(0.0, 0.55, size=len(names))
        price = np.where(price >= 5, np.round(price) - 0.01, np.round(price * 20) / 20 - 0.01)
        price = np.round(np.maximum(price, 0.49), 2)
        price[:len(planted)] = [PLANTED_LIST_PRICES[name] for name in planted]
        margin = np.clip(category.margin * rng.lognormal(0.0, 0.2, size=len(names)),
                         0.04, 0.85)
        for j, name in enumerate(names):
            ids.append(f"{10 + index}{j:03d}")
            descriptions.append(name)
        categories.append(np.full(len(names), index))
        prices.append(price)
        costs.append(np.round(price * (1 - margin), 2))
        weights.append(popularity * category.demand)
    weight = np.concatenate(weights)
    category = np.concatenate(categories)
    weight_cumsum = np.cumsum(weight)
    category_weight = np.bincount(category, weights=weight)
    category_start = np.concatenate([[0.0], np.cumsum(category_weight)[:-1]])
    description_index = {(CATEGORIES[c].name, d): i
                         for i, (c, d) in enumerate(zip(category, descriptions))}
    pairs = tuple((description_index[first], description_index[second])
                  for first, second in PLANTED_PAIRS)
    return _Catalog(product_ids=np.array(ids, dtype=object),
                    descriptions=np.array(descriptions, dtype=object), category=category,
                    list_price=np.concatenate(prices), unit_cost=np.concatenate(costs),
                    weight_cumsum=weight_cumsum, category_start=category_start,
                    category_weight=category_weight, pairs=pairs)


def _choose(rng: np.random.Generator, table: np.ndarray, group: np.ndarray) -> np.ndarray:
    """For each item, an index drawn from row ``group[i]`` of the probability ``table``
    (rows need not be normalised; zero entries are never drawn)."""
    table = np.asarray(table, dtype=float)
    cumulative = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    cumulative[:, -1] = 1.0
    rows, width = cumulative.shape
    flat = (cumulative + np.arange(rows)[:, None]).ravel()
    drawn = np.searchsorted(flat, group + rng.random(len(group)), side="right")
    return np.minimum(drawn - group * width, width - 1)


def _at_clock(calendar: _Calendar, t: np.ndarray) -> np.ndarray:
    """The seasonal clock at calendar time ``t`` (days since the start, fractional)."""
    day = np.minimum(t.astype(np.int64), calendar.days - 1)
    return calendar.clock[day] + calendar.weight[day] * (t - day)


def _make_customers(rng: np.random.Generator, calendar: _Calendar, count: int) -> dict:
    years = np.arange(calendar.days) / 365.25
    growth = 0.15 + 1.0 / (1.0 + np.exp(-(years - 7.0) / 1.8))
    acquisition = np.cumsum(growth * calendar.weight)
    first_day = np.searchsorted(acquisition, rng.random(count) * acquisition[-1], side="right")
    first_day = np.sort(np.minimum(first_day, calendar.days - 1))   # ids follow sign-up order
    first_time = first_day + rng.random(count)
    country_share = np.array([c[2] for c in COUNTRIES])
    country = _choose(rng, country_share[None, :], np.zeros(count, dtype=np.int64))
    city_offset = np.concatenate([[0], np.cumsum([len(c[3]) for c in COUNTRIES])[:-1]])
    city_count = np.array([len(c[3]) for c in COUNTRIES])
    # the first city of each country is the largest: a geometric share within the country
    city_rank = np.minimum(rng.geometric(0.45, size=count) - 1, city_count[country] - 1)
    demand = np.array([c.demand for c in CATEGORIES])
    favourite = _choose(rng, demand[None, :], np.zeros(count, dtype=np.int64))
    era = _channel_era(calendar, first_day)
    home_channel = _choose(rng, _channel_table(), era)
    return {
        "count": count,
        "first_day": first_day,
        "first_time": first_time,
        "rate": rng.gamma(0.8, 1.0, size=count),
        "lifetime": rng.exponential(1.0, size=count) * rng.gamma(1.3, 550.0, size=count),
        "country": country,
        "city": city_offset[country] + city_rank,
        "favourite": favourite,
        "home_channel": home_channel,
        "basket_factor": rng.lognormal(0.0, 0.25, size=count),
    }


def _channel_era(calendar: _Calendar, day: np.ndarray) -> np.ndarray:
    """0 before the marketplace launch, 1 before the app launch, 2 after."""
    years = day / 365.25
    return (years >= MARKETPLACE_LAUNCH_YEARS).astype(np.int64) + (years >= APP_LAUNCH_YEARS)


def _channel_table() -> np.ndarray:
    table = np.tile(CHANNEL_SHARE, (3, 1))
    table[0, [APP, MARKETPLACE]] = 0.0
    table[1, APP] = 0.0
    return table


def _simulate_orders(rng: np.random.Generator, calendar: _Calendar, customers: dict,
                     target_orders: float) -> tuple[_Orders, np.ndarray]:
    """Orders of every customer on the seasonal clock, and the expected orders per day."""
    count = customers["count"]
    start_clock = _at_clock(calendar, customers["first_time"])
    churn_time = np.minimum(customers["first_time"] + customers["lifetime"], calendar.days)
    span = _at_clock(calendar, churn_time) - start_clock
    intensity = customers["rate"] * span
    scale = max(target_orders - count, 0.0) / max(intensity.sum(), 1e-9)
    repeat_count = rng.poisson(scale * intensity)
    owner = np.repeat(np.arange(count), repeat_count)
    repeat_clock = start_clock[owner] + rng.random(len(owner)) * span[owner]
    repeat_day = np.searchsorted(calendar.clock, repeat_clock, side="right") - 1
    repeat_day = np.clip(repeat_day, 0, calendar.days - 1)

    customer = np.concatenate([np.arange(count), owner])
    day = np.concatenate([customers["first_day"], repeat_day])
    is_first = np.concatenate([np.ones(count, bool), np.zeros(len(owner), bool)])
    order = np.lexsort((is_first, day, customer))   # per customer, in time
    customer, day, is_first = customer[order], day[order], is_first[order]

    # expected orders per day: the first orders, plus the repeat rate of the active customers
    rate = scale * customers["rate"]
    active_from = customers["first_day"] + 1
    active_until = np.minimum(churn_time.astype(np.int64) + 1, calendar.days)
    active = np.cumsum(np.bincount(active_from, rate, minlength=calendar.days + 1)
                       - np.bincount(active_until, rate, minlength=calendar.days + 1))
    expected = (np.bincount(customers["first_day"], minlength=calendar.days)
                + active[:calendar.days] * calendar.weight)
    orders = _order_attributes(rng, calendar, customers, customer, day, is_first)
    return orders, expected


def _order_attributes(rng: np.random.Generator, calendar: _Calendar, customers: dict,
                      customer: np.ndarray, day: np.ndarray, is_first: np.ndarray,
                      source: np.ndarray | None = None,
                      channel: np.ndarray | None = None) -> _Orders:
    n = len(day)
    if channel is None:
        era = _channel_era(calendar, day)
        channel = np.where(rng.random(n) < HOME_CHANNEL_LOYALTY,
                           customers["home_channel"][customer], _choose(rng, _channel_table(),
                                                                        era))
        channel = np.where((channel == APP) & (era < 2), WEB, channel)
        channel = np.where((channel == MARKETPLACE) & (era < 1), WEB, channel)
        closed = np.zeros(calendar.days, dtype=bool)
        for month, day_of_month in STORE_CLOSED:
            closed |= (calendar.month == month) & (calendar.day_of_month == day_of_month)
        channel = np.where((channel == STORE) & closed[day], WEB, channel)
    device = _choose(rng, DEVICE_BY_CHANNEL, channel)
    if source is None:
        first = _choose(rng, SOURCE_FIRST_ORDER, channel)
        repeat = _choose(rng, SOURCE_REPEAT_ORDER, channel)
        source = np.where(is_first, first, repeat)
    payment = _choose(rng, PAYMENT_BY_CHANNEL, channel)
    mean_basket = (CHANNEL_MEAN_BASKET[channel] * SOURCE_BASKET_FACTOR[source]
                   * customers["basket_factor"][customer])
    basket = _truncated_geometric(rng, mean_basket, 10)
    store_sunday = (channel == STORE) & (calendar.weekday[day] == 6)
    hour_table = np.stack([ONLINE_HOURS, STORE_HOURS, STORE_SUNDAY_HOURS])
    hour_kind = np.where(store_sunday, 2, np.where(channel == STORE, 1, 0))
    hour = _choose(rng, hour_table, hour_kind)
    second = hour * 3600 + rng.integers(0, 3600, size=n)
    return _Orders(customer=customer, day=day, second=second, channel=channel,
                   device=device, source=source, payment=payment, basket=basket,
                   forced_category=np.full(n, -1), price_factor=np.ones(n),
                   quantity_factor=np.ones(n))


def _truncated_geometric(rng: np.random.Generator, mean: np.ndarray, top: int) -> np.ndarray:
    """Values 1..top with P(k) ∝ q^(k-1), q chosen so the untruncated mean is ``mean``."""
    q = np.clip(1.0 - 1.0 / np.maximum(mean, 1.0001), 1e-6, 0.999)
    u = rng.random(len(mean))
    k = np.ceil(np.log1p(-u * (1.0 - q ** top)) / np.log(q))
    return np.clip(k, 1, top).astype(np.int64)


def _trim_to_budget(rng: np.random.Generator, orders: _Orders, budget: int) -> _Orders:
    """Drop whole orders at random, then shorten one, so the baskets sum to ``budget``."""
    shuffled = rng.permutation(len(orders))
    cumulative = np.cumsum(orders.basket[shuffled])
    keep_count = int(np.searchsorted(cumulative, budget, side="right"))
    remaining = budget - (int(cumulative[keep_count - 1]) if keep_count else 0)
    kept = shuffled[:keep_count]
    if remaining:
        kept = np.append(kept, shuffled[keep_count])
    kept.sort()
    trimmed = orders.take(kept)
    if remaining:
        partial = int(np.searchsorted(kept, shuffled[keep_count]))
        trimmed.basket[partial] = remaining
    return trimmed


def _pick_guests(rng: np.random.Generator, customers: dict, orders: _Orders) -> np.ndarray:
    """Customers who checked out as guests: some one-time buyers, shown without an id."""
    order_count = np.bincount(orders.customer, minlength=customers["count"])
    return (order_count == 1) & (rng.random(customers["count"]) < GUEST_SHARE_OF_ONE_TIME_BUYERS)


# ----------------------------------------------------------------------------- anomalies
def _plan_anomalies(rng: np.random.Generator, calendar: _Calendar) -> dict:
    """Days (in the last year, away from the holidays and from each other) and slices."""
    days = calendar.days
    quiet = ~(((calendar.month == 11) & (calendar.day_of_month >= 10))
              | (calendar.month == 12) | ((calendar.month == 1) & (calendar.day_of_month <= 10)))
    eligible = np.zeros(days, dtype=bool)
    eligible[days - 330:days - 7] = True
    eligible &= quiet
    lengths = {"bulk": 1, "outage": 4, "price_error": 1, "campaign": 2}
    starts = {}
    for name, length in lengths.items():
        window_ok = eligible.copy()
        for offset in range(1, length):
            window_ok[:-offset] &= eligible[offset:]
            window_ok[-offset:] = False
        candidates = np.flatnonzero(window_ok)
        start = int(rng.choice(candidates))
        starts[name] = start
        eligible[max(0, start - 21):start + length + 21] = False
    mid_size_countries = np.arange(1, 8)
    return {
        "bulk": {"start": starts["bulk"], "end": starts["bulk"],
                 "country": int(rng.choice(mid_size_countries)), "lines": 6},
        "outage": {"start": starts["outage"], "end": starts["outage"] + 3, "loss": 0.95},
        "price_error": {"start": starts["price_error"], "end": starts["price_error"],
                        "category": int(rng.integers(len(CATEGORIES))), "price_factor": 0.1},
        "campaign": {"start": starts["campaign"], "end": starts["campaign"] + 1},
    }


def _active_customers(customers: dict, orders: _Orders, day: int) -> np.ndarray:
    """Customers with an order in the year before ``day``."""
    recent = (orders.day < day) & (orders.day >= day - 365)
    pool = np.unique(orders.customer[recent])
    if len(pool) == 0:
        pool = np.flatnonzero(customers["first_day"] < day)[-50:]
    return pool


def _injected_orders(rng: np.random.Generator, calendar: _Calendar, customers: dict,
                     orders: _Orders, plan: dict, expected_daily: np.ndarray) -> _Orders:
    """Orders of the anomalies that add sales: the bulk order, the price-error rush and the
    e-mail campaign."""
    parts = []
    bulk = plan["bulk"]
    same_country = np.flatnonzero((customers["country"] == bulk["country"])
                                  & (customers["first_day"] < bulk["start"]))
    if len(same_country) == 0:
        same_country = np.flatnonzero(customers["country"] == bulk["country"])
    if len(same_country) == 0:
        same_country = np.arange(customers["count"])
    buyer = np.array([same_country[rng.integers(len(same_country))]])
    bulk_order = _order_attributes(rng, calendar, customers, buyer,
                                   np.array([bulk["start"]]), np.zeros(1, bool),
                                   source=np.array([TRAFFIC_SOURCES.index("Direct")]),
                                   channel=np.array([WEB]))
    bulk_order.device[:] = 0
    bulk_order.payment[:] = PAYMENT_METHODS.index("Bank Transfer")
    bulk_order.basket[:] = bulk["lines"]
    bulk_order.second[:] = 10 * 3600 + 1_234
    bulk_order.forced_category[:] = [c.name for c in CATEGORIES].index(BULK_CATEGORY)
    parts.append(bulk_order)

    error = plan["price_error"]
    category_share = CATEGORIES[error["category"]].demand / sum(c.demand for c in CATEGORIES)
    usual_orders = expected_daily[error["start"]] * category_share * 2.5
    rush_count = max(8, round(12 * usual_orders))
    pool = _active_customers(customers, orders, error["start"])
    rush_customers = pool[rng.integers(len(pool), size=rush_count)]
    rush_source = _choose(rng, np.array([[0.0, 0.0, 0.3, 0.0, 0.5, 0.2]]),
                          np.zeros(rush_count, dtype=np.int64))
    in_app = (rng.random(rush_count) < 0.3) & (rush_source != TRAFFIC_SOURCES.index("Referral"))
    rush = _order_attributes(rng, calendar, customers, rush_customers,
                             np.full(rush_count, error["start"]), np.zeros(rush_count, bool),
                             source=rush_source, channel=np.where(in_app, APP, WEB))
    rush.basket[:] = rng.integers(1, 4, size=rush_count)
    rush.forced_category[:] = error["category"]
    rush.quantity_factor[:] = 2.5
    parts.append(rush)

    campaign = plan["campaign"]
    campaign_days = np.arange(campaign["start"], campaign["end"] + 1)
    email_share = float(np.mean(orders.source[orders.day >= calendar.days - 365] == EMAIL))
    per_day = np.maximum(6, np.round(2.0 * expected_daily[campaign_days] * email_share))
    campaign_day = np.repeat(campaign_days, per_day.astype(np.int64))
    pool = _active_customers(customers, orders, campaign["start"])
    campaign_customers = pool[rng.integers(len(pool), size=len(campaign_day))]
    parts.append(_order_attributes(
        rng, calendar, customers, campaign_customers, campaign_day,
        np.zeros(len(campaign_day), bool), source=np.full(len(campaign_day), EMAIL),
        channel=np.where(rng.random(len(campaign_day)) < 0.7, WEB, APP)))
    for part in parts:
        part.forced_category = part.forced_category.astype(np.int64)
    return _Orders.concat(parts)


def _apply_price_error(sale: dict, orders: _Orders, error: dict) -> None:
    """Every line of the category on that day is sold at a tenth of its price."""
    hit = (sale["category"] == error["category"]) & (orders.day[sale["order"]] == error["start"])
    sale["unit_price"][hit] = np.maximum(
        0.01, np.round(sale["unit_price"][hit] * error["price_factor"], 2))


def _size_bulk_order(customers: dict, sale: dict, orders: _Orders, bulk: dict,
                     n_organic: int) -> None:
    """Quantities of the bulk order: many times the country's usual daily revenue."""
    bulk_lines = sale["order"] == n_organic            # the first injected order
    country = customers["country"][orders.customer[sale["order"]]]
    day = orders.day[sale["order"]]
    window = ((country == bulk["country"]) & (day >= bulk["start"] - 28)
              & (day <= bulk["start"] + 28) & (day != bulk["start"]))
    daily = np.bincount(day[window] - (bulk["start"] - 28),
                        weights=sale["quantity"][window] * sale["unit_price"][window],
                        minlength=57)
    target = max(30 * daily.mean(), 6 * daily.max(), 2_000.0)
    prices = sale["unit_price"][bulk_lines]
    sale["quantity"][bulk_lines] = np.ceil(target / (len(prices) * prices))


# ----------------------------------------------------------------------------- lines
def _make_lines(rng: np.random.Generator, calendar: _Calendar, catalog: _Catalog,
                customers: dict, orders: _Orders) -> dict:
    """Sale lines of every order: ``order`` (index), ``position``, ``product``,
    ``category``, ``quantity``, ``unit_price``, ``unit_cost``, ``discount_rate`` (the
    promotion's share taken off the list price, already out of ``unit_price``)."""
    order = np.repeat(np.arange(len(orders)), orders.basket)
    starts = np.concatenate([[0], np.cumsum(orders.basket)[:-1]])
    position = np.arange(len(order)) - starts[order]
    day = orders.day[order]
    customer = orders.customer[order]

    season = np.array([c.season for c in CATEGORIES]).T * np.array(
        [c.demand for c in CATEGORIES])
    category = _choose(rng, season, calendar.month[day] - 1)
    favourite = rng.random(len(order)) < 0.3
    category = np.where(favourite, customers["favourite"][customer], category)
    forced = orders.forced_category[order]
    category = np.where(forced >= 0, forced, category)
    product = _product_in_category(rng, catalog, category)

    basket = orders.basket[order]
    partner = np.where(position < basket - 1, 1, -1)   # the next line, or the previous one
    for first, second in catalog.pairs:
        has_first = (product == first) & (basket >= 2)
        chosen = np.flatnonzero(has_first & (rng.random(len(order)) < PAIR_PROBABILITY))
        product[chosen + partner[chosen]] = second
    for _ in range(2):   # draw again where a product repeats within an invoice
        key = order * len(catalog.product_ids) + product
        sorted_index = np.argsort(key, kind="stable")
        repeated = sorted_index[1:][np.diff(key[sorted_index]) == 0]
        if len(repeated) == 0:
            break
        product[repeated] = _product_in_category(rng, catalog, category[repeated])
    category = catalog.category[product]

    list_price = catalog.list_price[product]
    scale = np.where(list_price < 8, 1.6, np.where(list_price < 40, 0.45, 0.12))
    quantity = 1 + np.floor(rng.exponential(1.0, len(order)) * scale
                            * orders.quantity_factor[order])
    quantity = np.minimum(quantity, 48.0)
    inflation = (1 + INFLATION_PER_YEAR) ** ((day - (calendar.days - 1)) / 365.25)
    discount = np.where(rng.random(len(order)) < 0.12,
                        rng.choice(np.array([0.1, 0.15, 0.2, 0.25, 0.3]), len(order)), 0.0)
    discount = np.where(calendar.holiday_sale[day], 0.2, discount)
    unit_price = np.maximum(0.01, np.round(list_price * inflation * (1 - discount)
                                           * orders.price_factor[order], 2))
    unit_cost = np.round(catalog.unit_cost[product] * inflation, 2)
    return {"order": order, "position": position, "product": product, "category": category,
            "quantity": quantity, "unit_price": unit_price, "unit_cost": unit_cost,
            "discount_rate": discount}


def _product_in_category(rng: np.random.Generator, catalog: _Catalog,
                         category: np.ndarray) -> np.ndarray:
    target = (catalog.category_start[category]
              + rng.random(len(category)) * catalog.category_weight[category])
    product = np.searchsorted(catalog.weight_cumsum, target, side="right")
    product = np.minimum(product, len(catalog.product_ids) - 1)
    # guard against rounding at a category boundary
    return np.where(catalog.category[product] == category, product,
                    np.searchsorted(catalog.category, category))


def _returns_and_adjustments(rng: np.random.Generator, calendar: _Calendar,
                             catalog: _Catalog, customers: dict, orders: _Orders,
                             sale: dict, fixed_lines: dict, n_organic: int) -> dict:
    """Return lines (grouped in one cancellation invoice per returned order), free gifts at
    price 0 on existing invoices, and "bad debt" adjustments at a negative price."""
    sale_day = orders.day[sale["order"]]
    weight = np.array([c.return_factor for c in CATEGORIES])[sale["category"]]
    weight = np.where((sale["order"] == n_organic) | (sale_day >= calendar.days - 2), 0.0,
                      weight)
    weight = weight * np.where(orders.channel[sale["order"]] == MARKETPLACE, 1.3, 1.0)
    keys = rng.exponential(1.0, len(weight)) / np.maximum(weight, 1e-12)
    keys[weight == 0] = np.inf
    returned = np.sort(np.argpartition(keys, fixed_lines["returns"])[:fixed_lines["returns"]])
    returned_order = sale["order"][returned]
    delay = 1 + np.minimum(rng.geometric(0.12, size=len(orders)), 60)
    return_day = np.minimum(orders.day + delay, calendar.days - 1)
    return_second = rng.integers(9 * 3600, 18 * 3600, size=len(orders))
    sold = sale["quantity"][returned]
    partial = (sold > 1) & (rng.random(len(returned)) < 0.2)
    returned_quantity = np.where(partial, np.ceil(sold * rng.random(len(returned))), sold)

    gift_order = rng.integers(0, n_organic, size=fixed_lines["free_gifts"])
    gift_product = _product_in_category(rng, catalog,
                                        rng.integers(len(CATEGORIES),
                                                     size=fixed_lines["free_gifts"]))
    bad_debt_day = rng.integers(calendar.days - 3 * 365, calendar.days,
                                size=fixed_lines["bad_debt"])
    return {
        "return_line": returned,
        "return_order": returned_order,
        "return_day": return_day[returned_order],
        "return_second": return_second[returned_order],
        "return_quantity": -returned_quantity,
        "gift_order": np.sort(gift_order),
        "gift_product": gift_product,
        "bad_debt_day": np.sort(bad_debt_day),
        "bad_debt_second": rng.integers(9 * 3600, 17 * 3600, size=fixed_lines["bad_debt"]),
        "bad_debt_amount": -np.round(rng.uniform(50, 5_000, size=fixed_lines["bad_debt"]), 2),
    }


def _strings(codes: np.ndarray, labels) -> pd.arrays.ArrowStringArray:
    """A string column from integer codes into ``labels`` (code −1 → <NA>)."""
    codes = np.asarray(codes, dtype=np.int32)
    if isinstance(labels, pa.Array):
        dictionary = labels.cast(pa.large_string())
    else:
        dictionary = pa.array(np.asarray(labels, dtype=object), type=pa.large_string())
    missing = codes < 0
    indices = pa.array(codes, mask=missing) if missing.any() else pa.array(codes)
    return pd.arrays.ArrowStringArray(pc.take(dictionary, indices))


def _assemble_lines(calendar: _Calendar, catalog: _Catalog, customers: dict, orders: _Orders,
                    sale: dict, extra: dict) -> pd.DataFrame:
    """The line-item frame: sale lines, return lines, free gifts and bad-debt adjustments,
    sorted by time, invoice and position, each column built in that order one at a time
    (integer codes first, strings last) to keep the peak memory low."""
    n_orders = len(orders)
    returned = extra["return_line"]
    returned_orders, return_invoice = np.unique(extra["return_order"], return_inverse=True)
    n_return_invoices = len(returned_orders)
    gift_orders = extra["gift_order"]
    n_sale, n_returns, n_gift = len(sale["order"]), len(returned), len(gift_orders)
    n_bad_debt = len(extra["bad_debt_day"])

    # invoices: the orders, the cancellation invoices (one per returned order), the bad-debt
    # adjustments; numbered in time order
    return_day = np.zeros(n_return_invoices, dtype=np.int64)
    return_second = np.zeros(n_return_invoices, dtype=np.int64)
    return_day[return_invoice] = extra["return_day"]
    return_second[return_invoice] = extra["return_second"]
    invoice_day = np.concatenate([orders.day, return_day, extra["bad_debt_day"]])
    invoice_second = np.concatenate([orders.second, return_second, extra["bad_debt_second"]])
    invoice_prefix = np.concatenate([np.zeros(n_orders, np.int8),
                                     np.ones(n_return_invoices, np.int8),
                                     np.full(n_bad_debt, 2, np.int8)])
    invoice_rank = np.empty(len(invoice_day), dtype=np.int64)
    invoice_rank[np.lexsort((invoice_second, invoice_day))] = np.arange(len(invoice_day))
    invoice_labels = pc.binary_join_element_wise(
        pa.array(np.array(["", "C", "A"], dtype=object)[invoice_prefix]),
        pa.array(invoice_rank + FIRST_INVOICE_NUMBER).cast(pa.string()), "")
    del invoice_prefix

    # lines in the order sale, return, free gift, bad debt; ``rows`` sorts them by invoice
    # number (which follows time), then position in the invoice
    invoice = np.concatenate([sale["order"], n_orders + return_invoice, gift_orders,
                              n_orders + n_return_invoices + np.arange(n_bad_debt)])
    line_rank = np.concatenate([sale["position"], sale["position"][returned],
                                np.full(n_gift, 15), np.zeros(n_bad_debt, np.int64)])
    rows = np.argsort(invoice_rank[invoice] * 16 + line_rank, kind="stable")
    del line_rank
    invoice = invoice[rows]
    line_order = np.concatenate([sale["order"], sale["order"][returned], gift_orders,
                                 np.full(n_bad_debt, -1)])[rows]
    kind = np.concatenate([np.zeros(n_sale, np.int8), np.ones(n_returns, np.int8),
                           np.full(n_gift, 2, np.int8), np.full(n_bad_debt, 3, np.int8)])[rows]
    has_order = line_order >= 0
    line_order = np.maximum(line_order, 0)
    customer = orders.customer[line_order]
    home_country = 0   # bad-debt adjustments are booked in the United Kingdom

    def product() -> np.ndarray:
        bad_debt = len(catalog.product_ids)
        return np.concatenate([sale["product"], sale["product"][returned],
                               extra["gift_product"], np.full(n_bad_debt, bad_debt)])[rows]

    def customer_code() -> np.ndarray:
        return np.where(has_order & ~customers["guest"][customer], customer, -1)

    def by_order(values: np.ndarray, none: int) -> np.ndarray:
        picked = np.where(has_order, values[line_order], -1)
        return np.where(picked == none, -1, picked)

    def category() -> np.ndarray:
        return np.where(kind == 3, -1, np.append(catalog.category, -1)[product()])

    def timestamp() -> np.ndarray:
        start = np.datetime64(calendar.start, "us").astype(np.int64)
        return (start + invoice_day[invoice] * _US_PER_DAY
                + invoice_second[invoice] * _US_PER_SECOND).astype("datetime64[us]")

    def quantity() -> np.ndarray:
        return np.concatenate([sale["quantity"], extra["return_quantity"], np.ones(n_gift),
                               np.ones(n_bad_debt)])[rows]

    def unit_price() -> np.ndarray:
        return np.concatenate([sale["unit_price"], sale["unit_price"][returned],
                               np.zeros(n_gift), extra["bad_debt_amount"]])[rows]

    def unit_cost() -> np.ndarray:
        gift_inflation = (1 + INFLATION_PER_YEAR) ** (
            (orders.day[gift_orders] - (calendar.days - 1)) / 365.25)
        gift_cost = np.round(catalog.unit_cost[extra["gift_product"]] * gift_inflation, 2)
        return np.concatenate([sale["unit_cost"], sale["unit_cost"][returned], gift_cost,
                               np.full(n_bad_debt, np.nan)])[rows]

    def country() -> np.ndarray:
        return np.where(has_order, customers["country"][customer], home_country)

    def discount() -> np.ndarray:
        # what the promotions took off a sale line, whose price is already net of them
        # (net = list × (1 − rate)); returns, gifts and bad-debt adjustments carry none
        rate = sale["discount_rate"]
        taken = np.round(sale["quantity"] * sale["unit_price"] * rate / (1 - rate), 2)
        return np.concatenate([taken, np.zeros(n_returns + n_gift + n_bad_debt)])[rows]

    customer_labels = pa.array(np.arange(customers["count"]) + FIRST_CUSTOMER_NUMBER
                               ).cast(pa.string())
    builders = {
        "invoice_id": lambda: _strings(invoice, invoice_labels),
        "invoice_ts": timestamp,
        "customer_id": lambda: _strings(customer_code(), customer_labels),
        "product_id": lambda: _strings(product(), np.append(catalog.product_ids, "B")),
        "description": lambda: _strings(product(), np.append(catalog.descriptions,
                                                             "Adjust bad debt")),
        "quantity": quantity,
        "unit_price": unit_price,
        "country": lambda: _strings(country(), [c[0] for c in COUNTRIES]),
        "country_code": lambda: _strings(country(), [c[1] for c in COUNTRIES]),
        "is_cancellation": lambda: kind == 1,
        "city": lambda: _strings(np.where(has_order, customers["city"][customer], -1),
                                 [city for c in COUNTRIES for city in c[3]]),
        "category": lambda: _strings(category(), [c.name for c in CATEGORIES]),
        "unit_cost": unit_cost,
        "discount": discount,
        "channel": lambda: _strings(by_order(orders.channel, -2), CHANNELS),
        "payment_method": lambda: _strings(by_order(orders.payment, -2), PAYMENT_METHODS),
        "device": lambda: _strings(by_order(orders.device, len(DEVICES)), DEVICES),
        "traffic_source": lambda: _strings(by_order(orders.source, len(TRAFFIC_SOURCES)),
                                           TRAFFIC_SOURCES),
    }
    # a dimension the demo does not simulate (one added to analytics.catalog since) is empty
    return pd.DataFrame({name: builders[name]() if name in builders
                         else pd.array([pd.NA] * len(invoice), dtype=schema.LINE_COLUMNS[name])
                         for name in schema.LINE_COLUMNS}, copy=False)


# ----------------------------------------------------------------------------- sessions
def _session_combinations() -> tuple[np.ndarray, np.ndarray]:
    """(channel, device, source) triples that occur, and a lookup triple → combination."""
    combos = []
    for channel in range(len(CHANNELS)):
        for device in np.flatnonzero(DEVICE_BY_CHANNEL[channel]):
            for source in np.flatnonzero(SOURCE_FIRST_ORDER[channel]
                                         + SOURCE_REPEAT_ORDER[channel]):
                combos.append((channel, device, source))
    combos = np.array(combos)
    lookup = np.full((len(CHANNELS), len(DEVICES) + 1, len(TRAFFIC_SOURCES) + 1), -1)
    lookup[combos[:, 0], combos[:, 1], combos[:, 2]] = np.arange(len(combos))
    return combos, lookup


def _make_sessions(rng: np.random.Generator, calendar: _Calendar, customers: dict,
                   orders: _Orders, n_organic: int, expected_daily: np.ndarray,
                   plan: dict) -> pd.DataFrame:
    """Daily sessions per country, channel, device and traffic source: the cell's orders plus
    non-converting sessions drawn around the expected traffic of the cell."""
    combos, lookup = _session_combinations()
    n_countries, n_combos, days = len(COUNTRIES), len(combos), calendar.days
    conversion = np.where(combos[:, 0] == STORE, STORE_CONVERSION,
                          SOURCE_CONVERSION[combos[:, 2]] * DEVICE_CONVERSION[combos[:, 1]]
                          * CHANNEL_CONVERSION[combos[:, 0]])
    non_converting_per_order = 1.0 / conversion - 1.0

    combo = lookup[orders.channel, orders.device, orders.source]
    if (combo < 0).any():
        raise AssertionError("an order has a channel/device/source combination without sessions")
    country = customers["country"][orders.customer]
    slot = country * n_combos + combo
    organic = np.arange(len(orders)) < n_organic
    years = calendar.year_index.max() + 1
    year_of_order = calendar.year_index[orders.day[organic]]
    mix = np.bincount(year_of_order * n_countries * n_combos + slot[organic],
                      minlength=years * n_countries * n_combos).reshape(years, -1)
    mix = mix / np.maximum(mix.sum(axis=1, keepdims=True), 1)

    expected = expected_daily[:, None] * mix[calendar.year_index]          # days × slots
    expected *= np.tile(non_converting_per_order, n_countries)[None, :]
    outage = plan["outage"]
    app_slots = np.tile(combos[:, 0] == APP, n_countries)
    expected[outage["start"]:outage["end"] + 1, app_slots] *= 1 - outage["loss"]
    injected = ~organic
    injected_cells = np.bincount(orders.day[injected] * n_countries * n_combos + slot[injected],
                                 minlength=days * n_countries * n_combos)
    expected = expected.ravel()
    expected += injected_cells * np.tile(non_converting_per_order, days * n_countries)
    order_cells = np.bincount(orders.day * n_countries * n_combos + slot,
                              minlength=days * n_countries * n_combos)
    sessions = order_cells + rng.poisson(expected)
    cell = np.flatnonzero(sessions > 0)
    day, rest = np.divmod(cell, n_countries * n_combos)
    cell_country, cell_combo = np.divmod(rest, n_combos)
    channel, device, source = combos[cell_combo].T
    frame = pd.DataFrame({
        "session_date": (np.datetime64(calendar.start, "D") + day).astype("datetime64[us]"),
        "country_code": _strings(cell_country, [c[1] for c in COUNTRIES]),
        "channel": _strings(channel, CHANNELS),
        "device": _strings(np.where(device == len(DEVICES), -1, device), DEVICES),
        "traffic_source": _strings(np.where(source == len(TRAFFIC_SOURCES), -1, source),
                                   TRAFFIC_SOURCES),
        "sessions": sessions[cell].astype(np.int64),
    })
    return frame.reindex(columns=list(schema.SESSION_COLUMNS))  # absent: a newer dimension


# ----------------------------------------------------------------------------- descriptions
def _describe_anomalies(calendar: _Calendar, customers: dict, orders: _Orders, sale: dict,
                        plan: dict) -> list[dict]:
    """The planted anomalies with their size measured on the generated sale lines."""
    day = orders.day[sale["order"]]
    revenue = sale["quantity"] * sale["unit_price"]
    country = customers["country"][orders.customer[sale["order"]]]
    channel = orders.channel[sale["order"]]
    source = orders.source[sale["order"]]
    first_line = sale["position"] == 0

    def measure(start: int, end: int, in_slice: np.ndarray, values: np.ndarray) -> dict:
        daily = np.bincount(day[in_slice], weights=values[in_slice], minlength=calendar.days)
        observed = float(daily[start:end + 1].sum())
        expected = float(daily[start - 28:start].mean() * (end - start + 1))
        return {"expected": round(expected, 2), "observed": round(observed, 2),
                "magnitude": round(observed / expected, 2) if expected else None}

    def date(index: int) -> dt.date:
        return calendar.start + dt.timedelta(days=int(index))

    bulk, outage = plan["bulk"], plan["outage"]
    error, campaign = plan["price_error"], plan["campaign"]
    country_name = COUNTRIES[bulk["country"]][0]
    category_name = CATEGORIES[error["category"]].name
    ones = np.ones(len(day))
    anomalies = [
        {"name": "bulk order", "kind": "spike", "metric": "revenue",
         "start": date(bulk["start"]), "end": date(bulk["end"]),
         "dimensions": {"country": country_name},
         **measure(bulk["start"], bulk["end"], country == bulk["country"], revenue),
         "description": f"A business customer in {country_name} places one invoice of "
                        f"{bulk['lines']} {BULK_CATEGORY} lines in large quantities "
                        f"(web, bank transfer): that day's revenue in {country_name} is "
                        f"many times its usual level."},
        {"name": "mobile app outage", "kind": "drop", "metric": "orders",
         "start": date(outage["start"]), "end": date(outage["end"]),
         "dimensions": {"channel": "Mobile App"},
         **measure(outage["start"], outage["end"], (channel == APP) & first_line, ones),
         "description": f"The mobile app is down for 4 days: {outage['loss']:.0%} of its "
                        "orders (and sessions) are lost; the other channels are unaffected."},
        {"name": "price error", "kind": "spike", "metric": "units",
         "start": date(error["start"]), "end": date(error["end"]),
         "dimensions": {"category": category_name},
         **measure(error["start"], error["end"], sale["category"] == error["category"],
                   sale["quantity"]),
         "description": f"Every {category_name} product is priced at a tenth of its price "
                        "for one day (a decimal slip); the deal spreads on social media and "
                        "deal sites, units sold jump while the average unit price collapses."},
        {"name": "e-mail campaign", "kind": "spike", "metric": "orders",
         "start": date(campaign["start"]), "end": date(campaign["end"]),
         "dimensions": {"traffic_source": "Email"},
         **measure(campaign["start"], campaign["end"], (source == EMAIL) & first_line, ones),
         "description": "A two-day newsletter promotion: extra orders from existing customers "
                        "arriving by e-mail (web and app)."},
    ]
    return anomalies


# ----------------------------------------------------------------------------- ad spend
#: The demo's ad channels: (channel, the orders' traffic source attributed to it
#: (``analytics.marketing.ALIASES``), target ROAS on that revenue, campaigns as (name, share
#: of the channel's spend, platform-reported ROAS relative to the target, CPC, CTR, country
#: code or None)).
AD_CHANNELS: tuple[tuple[str, str, float, tuple[tuple], ...], ...] = (
    ("Google Ads", "Paid Search", 4.0, (
        ("Brand - UK", 0.18, 2.0, 0.35, 0.090, "GB"),
        ("Brand - Europe", 0.08, 1.7, 0.40, 0.070, None),
        ("Generic - Home & Living", 0.16, 0.7, 0.95, 0.035, None),
        ("Generic - Gifts", 0.10, 0.8, 0.90, 0.040, None),
        ("Shopping - All Products", 0.22, 1.1, 0.55, 0.012, None),
        ("Shopping - Best Sellers", 0.12, 1.3, 0.50, 0.015, None),
        ("Performance Max - Seasonal", 0.10, 0.9, 0.60, 0.020, None),
        ("Search - Competitors", 0.04, 0.4, 1.40, 0.025, None))),
    ("Meta Ads", "Social", 2.5, (
        ("Prospecting - Lookalike 1%", 0.25, 0.8, 0.70, 0.011, None),
        ("Prospecting - Interests", 0.15, 0.6, 0.80, 0.009, None),
        ("Advantage+ Shopping", 0.22, 1.3, 0.55, 0.013, None),
        ("Retargeting - Cart Abandoners", 0.12, 2.5, 0.45, 0.020, None),
        ("Retargeting - Product Viewers", 0.10, 1.8, 0.50, 0.016, None),
        ("Catalog - Dynamic Ads", 0.10, 1.2, 0.60, 0.012, None),
        ("Video - Brand Story", 0.06, 0.3, 0.35, 0.006, None))),
    ("Email", "Email", 25.0, (
        ("Newsletter", 0.45, 1.0, 0.06, 0.025, None),
        ("Welcome Flow", 0.20, 1.2, 0.05, 0.040, None),
        ("Abandoned Cart Flow", 0.20, 1.5, 0.04, 0.050, None),
        ("Win-back", 0.15, 0.6, 0.07, 0.020, None))),
)
AD_DAYS = 730
AD_CURRENCY = "GBP"
#: The planted collapse: this campaign, over the last ``days`` days, spends ``spend`` times
#: as much while its platform conversion value is ``value`` times its usual.
AD_COLLAPSE = {"channel": "Meta Ads", "campaign": "Advantage+ Shopping", "days": 21,
               "spend": 1.4, "value": 0.25}


def _make_ad_spend(lines: pd.DataFrame, seed: int, end: dt.date) -> tuple[pd.DataFrame, dict]:
    """Daily ad rows for the last ``AD_DAYS`` days up to ``end`` and the planted collapse.

    A channel's spend on a day is the mean daily net revenue of its attributed orders over
    the 28 days before ÷ its target ROAS, with noise; a campaign takes its share of it,
    its clicks at its CPC, its impressions at its CTR, its platform conversion value at its
    platform ROAS (target × the campaign's factor, with noise). Only the finished line items
    and a generator seeded from ``seed`` of its own are used."""
    rng = np.random.default_rng([seed, 31_415])
    days = pd.date_range(end=pd.Timestamp(end), periods=AD_DAYS, freq="D")
    counted = (lines["unit_price"] > 0).to_numpy()
    value = (lines["quantity"] * lines["unit_price"]).to_numpy()
    day = lines["invoice_ts"].dt.normalize()
    history = pd.date_range(end=pd.Timestamp(end), periods=AD_DAYS + 28, freq="D")
    collapse_start = days[-AD_COLLAPSE["days"]]
    frames = []
    for channel, source, target, campaigns in AD_CHANNELS:
        mask = counted & (lines["traffic_source"] == source).fillna(False).to_numpy()
        daily = pd.Series(value[mask], index=day[mask]).groupby(level=0).sum() \
            .reindex(history, fill_value=0.0)
        base = daily.rolling(28).mean().shift(1).reindex(days).fillna(0.0).to_numpy()
        channel_spend = base / target * rng.lognormal(0.0, 0.15, len(days))
        for name, share, factor, cpc, ctr, country in campaigns:
            spend = channel_spend * share * rng.lognormal(0.0, 0.10, len(days))
            roas = target * factor * rng.lognormal(0.0, 0.25, len(days))
            if (channel, name) == (AD_COLLAPSE["channel"], AD_COLLAPSE["campaign"]):
                late = days >= collapse_start
                spend = np.where(late, spend * AD_COLLAPSE["spend"], spend)
                roas = np.where(late, roas * AD_COLLAPSE["value"], roas)
            spend = np.round(spend, 2)
            clicks = np.round(spend / (cpc * rng.lognormal(0.0, 0.10, len(days))))
            impressions = np.round(clicks / (ctr * rng.lognormal(0.0, 0.10, len(days))))
            conversion_value = np.round(spend * roas, 2)
            conversions = np.round(conversion_value / 60.0 * rng.lognormal(0.0, 0.2, len(days)))
            frames.append(pd.DataFrame({
                "ad_date": days.astype("datetime64[us]"), "channel": channel,
                "campaign": name, "ad_group": pd.NA,
                "country": "United Kingdom" if country == "GB" else pd.NA,
                "country_code": country if country else pd.NA, "product_id": pd.NA,
                "impressions": impressions.astype("int64"), "clicks": clicks.astype("int64"),
                "spend": spend, "conversions": conversions.astype("float64"),
                "conversion_value": conversion_value, "currency": AD_CURRENCY,
            }).loc[spend > 0])
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.astype({name: dtype for name, dtype in schema.AD_COLUMNS.items()})
    frame = frame[list(schema.AD_COLUMNS)].sort_values(["ad_date", "channel", "campaign"]) \
        .reset_index(drop=True)
    planted = frame[(frame["channel"] == AD_COLLAPSE["channel"])
                    & (frame["campaign"] == AD_COLLAPSE["campaign"])]
    before = planted[(planted["ad_date"] < collapse_start)
                     & (planted["ad_date"] >= collapse_start - pd.Timedelta(days=28))]
    during = planted[planted["ad_date"] >= collapse_start]

    def platform_roas(rows: pd.DataFrame) -> float | None:
        spend = float(rows["spend"].sum())
        return round(float(rows["conversion_value"].sum()) / spend, 2) if spend else None

    anomaly = {
        "channel": AD_COLLAPSE["channel"], "campaign": AD_COLLAPSE["campaign"],
        "start": collapse_start.date(), "end": end,
        "roas_before": platform_roas(before), "roas_during": platform_roas(during),
        "description": f"{AD_COLLAPSE['campaign']} ({AD_COLLAPSE['channel']}) spends "
                       f"{AD_COLLAPSE['spend'] - 1:.0%} more over the last "
                       f"{AD_COLLAPSE['days']} days while the conversion value the platform "
                       f"reports falls to {AD_COLLAPSE['value']:.0%} of its usual: its ROAS "
                       "collapses."}
    return frame, anomaly
