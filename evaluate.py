"""Evaluate a trained policy against fixed time-step parameters: ``python evaluate.py --help``."""

from agents.evaluate_cli import main

if __name__ == "__main__":
    main()
