"""Train an agent: ``python train.py --help``. The work is done in :mod:`agents.train_cli`."""

from agents.train_cli import main

if __name__ == "__main__":
    main()
