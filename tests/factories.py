"""Minimal, valid factories for the core models; tests set every value they assert on."""

from datetime import UTC, datetime
from decimal import Decimal

import factory

from accounts.models import Customer, CustomerIdentifier, User
from insights.catalog.models import Category, Department, Product
from insights.purchases.models import Channel, Order, OrderLine


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    name = factory.Faker("name")
    password = factory.django.Password("correct horse battery staple")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    user = None


class CustomerIdentifierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerIdentifier

    customer = factory.SubFactory(CustomerFactory)
    kind = CustomerIdentifier.Kind.LOYALTY_CARD
    value = factory.Sequence(lambda n: f"CARD{n:08d}")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Department {n}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("department", "name")

    department = factory.SubFactory(DepartmentFactory)
    name = factory.Sequence(lambda n: f"Category {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU{n:06d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = factory.SubFactory(CategoryFactory)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    source = "test"
    external_id = factory.Sequence(lambda n: f"ORD{n:08d}")
    channel = Channel.STORE
    store_id = "1"
    placed_at = factory.LazyFunction(lambda: datetime(2026, 10, 1, 10, 0, tzinfo=UTC))
    currency = "SEK"
    total_amount = Decimal("0.00")
    total_discount = Decimal("0.00")
    content_hash = factory.Sequence(lambda n: f"{n:064d}")


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    customer = factory.LazyAttribute(lambda line: line.order.customer)
    placed_at = factory.LazyAttribute(lambda line: line.order.placed_at)
    line_no = factory.Sequence(lambda n: n + 1)
    product = factory.SubFactory(ProductFactory)
    quantity = Decimal("1")
    unit_price = Decimal("10.00")
    amount_paid = Decimal("10.00")
    discount = Decimal("0.00")
    coupon_discount = Decimal("0.00")
