"""The shop app (seed 002): POST /api/order/pay."""
