"""Shoppers: logins, the retailer's customers, consent, profile and data rights."""
