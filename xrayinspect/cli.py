"""The ``xrayinspect`` command line.

Each subcommand lives in :mod:`xrayinspect.commands` as a module with
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Arguments are parsed before anything heavy is imported, so ``--help`` is
instant and a missing extra gives an install hint with exit code 2.

Exit codes: 0 done; 1 some frames failed their verdict (only with
``--fail-on-defect``); 2 usage error or a missing extra; 3 some frames could
not be read or scored; 130 interrupted.
"""

import argparse
import importlib
import sys

from ._version import __version__

SUBCOMMANDS = ("score", "synth", "train", "export-onnx", "profiles")


def build_parser():
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="xrayinspect", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"xrayinspect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name in SUBCOMMANDS:
        try:
            mod = importlib.import_module(f"xrayinspect.commands.{name.replace('-', '_')}")
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith("xrayinspect.commands"):
                continue        # not built yet
            raise
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        modules[name] = mod
    return parser, modules


def main(argv=None):
    """Run the command line; returns the exit code."""
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from ._malloc import keep_freed_memory

    # this process scores frames: reuse freed frame-sized buffers, not page-fault new ones
    keep_freed_memory()
    try:
        return int(modules[args.command].run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
