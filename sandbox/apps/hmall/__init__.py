"""hmall pay-service and user-service (seed 000): login, pay orders and balance payment, as the Java original."""
