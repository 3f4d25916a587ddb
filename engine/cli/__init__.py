"""The ``inceptionism`` command line: one entry point, subcommands.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
callable taking the parsed ``argparse.Namespace`` and returning an exit
status. Errors a user can cause become one line on stderr and a non-zero exit;
``--debug`` shows the traceback.

Help is plain text: every option says its default (:class:`HelpFormatter`),
descriptions and the examples in each subcommand's epilog are shown as
written.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Modules (in this package) whose ``register`` adds subcommands.
COMMAND_MODULES = (
    "weights_cmd",
    "net_cmd",
    "dream_cmd",
    "plugins_cmd",
    "studio_cmd",
)


EXAMPLES = """\
examples:
  inceptionism weights synthetic bvlc_googlenet -o synthetic.h5   # offline
  inceptionism weights fetch bvlc_googlenet
  inceptionism dream photo.jpg
  inceptionism layers
  inceptionism studio          # the web studio (pip install "inceptionism[studio]")
  inceptionism COMMAND -h      # a command's options, defaults and examples"""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help ends with its default, unless the help already says
    it or there is none to say (flags, None, empty lists). Descriptions are
    wrapped paragraph by paragraph; an ``examples:`` epilog is kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        fill = super()._fill_text
        return "\n\n".join(fill(part, width, indent) for part in text.split("\n\n"))

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or not action.option_strings
            or action.required
            or default is None
            or default is False
            or default == []
            or default is argparse.SUPPRESS
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("inceptionism")
    except metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "unknown"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and ``-h`` still shows usage);
    help through :class:`HelpFormatter` (subcommands' parsers too)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} -h`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="inceptionism",
        description="DeepDream without a deep-learning framework.",
        epilog=EXAMPLES,
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks on errors"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # subcommand group not built into this version
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("inceptionism: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `inceptionism layers | head`: the reader left; not an error of ours.
        # Point stdout at devnull so the interpreter's final flush stays quiet.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # one line for the user, traceback with --debug
        if args.debug:
            raise
        msg = str(exc) or type(exc).__name__
        print(f"inceptionism: error: {msg}", file=sys.stderr)
        return 1
    finally:
        stdio = getattr(args, "stdio", None)  # `-` as IN or -o: temporary files
        if stdio is not None:
            stdio.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
