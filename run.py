"""Start the payment sandbox from a checkout: python run.py --help (installed, `payment-sandbox` does the same)."""
from sandbox.cli import main

if __name__ == "__main__":
    main(prog="python run.py")
