"""The product catalog that admins configure: departments, categories, products, shelf life."""
