"""Command line: python -m pyharness layout|stat|events ..."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections.abc import Sequence

from pyroute2.netlink.exceptions import NetlinkError

from .guest import netlink, stat
from .model import layout


def _layout(args: argparse.Namespace) -> int:
    ring = layout.layout(
        args.buffers,
        args.bufsize,
        args.tails,
        pointer_size=args.pointer_size,
        kmalloc=args.kmalloc,
        page_size=args.page_size,
    )
    figures = ring.as_dict()
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        width = max(len(k) for k in figures)
        print("\n".join(f"{k:<{width}}  {v}" for k, v in figures.items()))
    return 0


def _stat(args: argparse.Namespace) -> int:
    try:
        snapshot = stat.snapshot()
    except netlink.FamilyMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(snapshot, indent=2) if args.json else stat.render(snapshot))
    return 0


def _events(args: argparse.Namespace) -> int:
    try:
        for event in stat.events(args.family):
            print(json.dumps(event) if args.json else stat.event_line(event), flush=True)
    except netlink.FamilyMissing as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


U32_MAX = (1 << 32) - 1  # buffers and bufsize are __u32 in the UAPI


def positive_integer(text: str) -> int:
    """A count or size from 1 to 2**32 - 1 (decimal, or 0x hexadecimal)."""
    try:
        value = int(text, 0)
    except ValueError:
        value = 0
    if not 1 <= value <= U32_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer from 1 to {U32_MAX}")
    return value


def page_size(text: str) -> int:
    """A page size Linux has: a power of two from 4096 (x86) to 262144 bytes."""
    value = positive_integer(text)
    if value & (value - 1) or not 4096 <= value <= 262144:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a page size: give a power of two from 4096 to 262144"
        )
    return value


DEFAULT = "default: %(default)s"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m pyharness", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    lay = commands.add_parser("layout", help="the ring layout model of docs/design.md, section 2")
    lay.add_argument(
        "--buffers", type=positive_integer, required=True, metavar="N", help="number of buffers"
    )
    lay.add_argument(
        "--bufsize", type=positive_integer, required=True, metavar="BYTES", help="bytes per buffer"
    )
    lay.add_argument("--tails", choices=("packed", "own-page"), default="packed", help=DEFAULT)
    lay.add_argument(
        "--pointer-size",
        type=int,
        choices=(4, 8),
        default=8,
        metavar="{4,8}",
        help="bytes; " + DEFAULT,
    )
    lay.add_argument("--kmalloc", choices=("pow2", "slub"), default="slub", help=DEFAULT)
    lay.add_argument(
        "--page-size", type=page_size, default=layout.PAGE_SIZE, metavar="BYTES", help=DEFAULT
    )
    lay.add_argument("--json", action="store_true", help="print JSON")
    lay.set_defaults(run=_layout)
    st = commands.add_parser("stat", help="rings and high-memory regions now (netlink, root)")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(run=_stat)
    ev = commands.add_parser("events", help="one line per ring or region event (netlink, root)")
    ev.add_argument("--json", action="store_true", help="one JSON object per line")
    ev.add_argument(
        "--family", action="append", choices=("mdma", "allocator"), help="default: both"
    )
    ev.set_defaults(run=_events)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except BrokenPipeError:  # `... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (PermissionError, NetlinkError) as err:
        code = err.errno if isinstance(err, PermissionError) else err.code
        if code not in (errno.EPERM, errno.EACCES):
            raise
        print(
            f"error: {args.command}: {os.strerror(code)}: the modules' netlink families "
            "and debugfs need root (CAP_NET_ADMIN for netlink, as `ip monitor` does)",
            file=sys.stderr,
        )
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
