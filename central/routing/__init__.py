"""Routing and delivery promise: which site ships an order, and when it arrives."""
