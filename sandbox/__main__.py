"""`python -m sandbox`: start the sandbox, as `payment-sandbox` and `python run.py` do."""
from .cli import main

if __name__ == "__main__":
    main(prog="python -m sandbox")
