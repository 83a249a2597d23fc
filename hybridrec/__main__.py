"""Command line: ``python -m hybridrec {demo, fit, recommend, evaluate}``."""

from __future__ import annotations

import argparse
import sys

from .cli import add_commands, run
from .demo import DemoSettings, demo


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m hybridrec``."""
    parser = argparse.ArgumentParser(prog="python -m hybridrec")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="train on synthetic data and print results")
    demo_parser.add_argument("--users", type=int, default=DemoSettings.users)
    demo_parser.add_argument("--items", type=int, default=DemoSettings.items)
    demo_parser.add_argument("--loss", default=DemoSettings.loss,
                             choices=["warp", "bpr", "logistic", "warp-kos"])
    demo_parser.add_argument("--components", type=int, default=DemoSettings.components)
    demo_parser.add_argument("--epochs", type=int, default=DemoSettings.epochs)
    demo_parser.add_argument("--threads", type=int, default=None,
                             help="numba threads (default: every core available, at most "
                                  "NUMBA_NUM_THREADS)")
    demo_parser.add_argument("--seed", type=int, default=DemoSettings.seed)
    demo_parser.set_defaults(handler=demo)
    add_commands(commands)
    args = parser.parse_args(argv)
    return run(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
