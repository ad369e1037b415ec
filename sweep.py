"""Train and evaluate a grid of settings: ``python sweep.py SWEEP.yml [--scheduler local|tcp://...]``."""

from agents.sweep_cli import main

if __name__ == "__main__":
    main()
