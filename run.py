"""Start the payment sandbox: python run.py --help"""
from sandbox.cli import main

if __name__ == "__main__":
    main()
