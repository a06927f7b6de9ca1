"""The partner app (seed 001): POST /app/partner/order/pay, balance or Alipay, with its own MD5 sign."""
