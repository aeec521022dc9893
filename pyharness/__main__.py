"""Command line: python -m pyharness layout|stat|events ..."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import layout, netlink, stat


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
    except KeyboardInterrupt:
        pass
    return 0


def _positive(text: str) -> int:
    value = int(text, 0)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m pyharness", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    lay = commands.add_parser("layout", help="the ring layout model of docs/design.md, section 2")
    lay.add_argument("--buffers", type=_positive, required=True, help="number of buffers")
    lay.add_argument("--bufsize", type=_positive, required=True, help="bytes per buffer")
    lay.add_argument("--tails", choices=("packed", "own-page"), default="packed")
    lay.add_argument("--pointer-size", type=int, choices=(4, 8), default=8)
    lay.add_argument("--kmalloc", choices=("pow2", "slub"), default="slub")
    lay.add_argument("--page-size", type=_positive, default=layout.PAGE_SIZE)
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
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
