"""Generic netlink clients of the families mdma (mdma.ko) and allocator (allocator.ko).

Nothing is retyped from the kernel: the family, group and attribute names and
the command, attribute and event numbers come from
kmod/include/uapi/master_dma.h (its enums through cffi, its string macros
from its text), and MASTER_DMA_A_SUMMARY is that header's struct, decoded
by cffi.  Only each attribute's wire type is said here (ATTR_TYPES): a host
test checks it names exactly the header's attributes, and a guest test checks
the kernel's policy dump registers exactly the header's commands.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
from collections.abc import Generator, Iterator, Sequence
from functools import cache
from typing import Any

from pyroute2.netlink import (
    NETLINK_ADD_MEMBERSHIP,
    NETLINK_GENERIC,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    SOL_NETLINK,
    genlmsg,
)
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import GenericNetlinkSocket

from .. import uapi

PREFIX = "MASTER_DMA_A_"
# Wire type of each attribute, by the name after the prefix (pyroute2's names).
ATTR_TYPES = {
    "UNSPEC": "none",
    "PAD": "none",
    "FLAGS": "uint32",
    "EVENT": "uint32",
    "NAME": "asciiz",
    "DEVICE": "asciiz",
    "DRIVER": "asciiz",
    "SUMMARY": "cdata",
    "START": "uint64",
    "SIZE": "uint64",
    "OWNER": "asciiz",
    "RINGS": "uint32",
    "PAGES": "uint64",
    "BASE": "uint64",
    "FREE": "uint64",
    "LARGEST_FREE": "uint64",
    "REGIONS": "uint32",
    "ENABLED": "uint8",
    "EVENT_SEQ": "uint64",
}
MODULE_OF = {"mdma": "mdma.ko", "allocator": "allocator.ko"}
RECV_BYTES = 1 << 16  # one datagram: a multicast message is at most NLMSG_GOODSIZE


class FamilyMissing(RuntimeError):
    """The family is not registered: its module is not loaded."""


def missing(families: Sequence[str]) -> FamilyMissing:
    """The one answer when none of these families is there (stat and events)."""
    names = " or ".join(repr(f) for f in families)
    modules = " or ".join(MODULE_OF[f] for f in families)
    return FamilyMissing(f"no {names} family: load {modules}")


def enum(name: str) -> dict[int, str]:
    """An enum of the UAPI header, value -> name."""
    return dict(uapi.ffi().typeof(f"enum {name}").elements)


def attributes() -> list[tuple[str, str]]:
    """pyroute2's nla_map: the header's attributes in number order, with their types."""
    attrs = enum("master_dma_attr")
    names = [attrs[value] for value in range(len(attrs))]  # KeyError if not dense
    return [(name, ATTR_TYPES[name.removeprefix(PREFIX)]) for name in names if "__" not in name]


@cache
def message_class() -> type[genlmsg]:
    return type("MasterDmaMsg", (genlmsg,), {"prefix": PREFIX, "nla_map": tuple(attributes())})


def decode_summary(blob: bytes) -> dict[str, int]:
    """MASTER_DMA_A_SUMMARY as a dict of struct master_dma_summary's fields."""
    ffi = uapi.ffi()
    summary = ffi.new("struct master_dma_summary *")
    if len(blob) != ffi.sizeof(summary[0]):
        raise ValueError(f"summary of {len(blob)} bytes, expected {ffi.sizeof(summary[0])}")
    ffi.memmove(summary, blob, len(blob))
    return {name: int(getattr(summary, name)) for name, _ in ffi.typeof(summary[0]).fields}


def decode(msg: Any) -> dict[str, Any]:
    """One message as a dict: lower-case attribute names, the event by name, the
    summary as its fields."""
    out: dict[str, Any] = {}
    events = enum("master_dma_event")
    for name, raw in msg["attrs"]:
        key = name.removeprefix(PREFIX).lower()
        if key == "summary":
            out[key] = decode_summary(bytes(raw))
        elif key == "event":
            out[key] = events[raw].removeprefix("MASTER_DMA_EVENT_").lower()
        elif key != "pad":
            out[key] = raw
    return out


class MasterDmaSocket(GenericNetlinkSocket):  # type: ignore[misc]
    """A socket bound to one of the two families; raises FamilyMissing if absent."""

    def __init__(self, family: str) -> None:
        super().__init__()
        self.family = family
        self.listening: dict[int, str] = {}  # family id -> name, for events()
        try:
            self.bind(uapi.strings()[f"MASTER_DMA_GENL_{family.upper()}"], message_class())
        except NetlinkError as err:
            self.close()
            if err.code == errno.ENOENT:
                raise missing([family]) from err
            raise

    def request(
        self, cmd: str, dump: bool, attrs: Sequence[tuple[str, Any]] = ()
    ) -> list[dict[str, Any]]:
        msg = message_class()()
        msg["cmd"] = uapi_cmd(cmd)
        msg["version"] = uapi.lib().MASTER_DMA_GENL_VERSION
        msg["attrs"] = list(attrs)
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
        return [decode(m) for m in self.nlm_request(msg, msg_type=self.prid, msg_flags=flags)]

    def dump_in_parts(self, cmd: str) -> Generator[list[dict[str, Any]], None, None]:
        """A dump, one part at a time: the messages of each datagram the kernel
        filled.  The kernel fills part N + 1 inside the recv() that returns part
        N, so a change the caller makes after reading part N shows from part
        N + 2 on (a ring freed then is one already sent, or one still to come).
        Sent on a socket of its own; OSError with the kernel's errno if it
        refuses."""
        msg = message_class()()
        msg["cmd"] = uapi_cmd(cmd)
        msg["version"] = uapi.lib().MASTER_DMA_GENL_VERSION
        msg["header"]["type"] = self.prid
        msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_DUMP
        msg["header"]["sequence_number"] = 1
        msg.encode()
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC) as raw:
            raw.bind((0, 0))
            raw.send(msg.data)
            while True:
                data, offset = raw.recv(RECV_BYTES), 0
                part: list[dict[str, Any]] = []
                while offset + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, offset)
                    if kind == NLMSG_DONE:
                        yield part
                        return
                    if kind == NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", data, offset + 16)
                        if code:
                            raise OSError(-code, os.strerror(-code))
                    elif kind == self.prid:
                        reply = message_class()(data[offset : offset + length])
                        reply.decode()
                        part.append(decode(reply))
                    offset += (length + 3) & ~3
                yield part

    def rings(self) -> list[dict[str, Any]]:
        return self.request("RINGS", dump=True)

    def regions(self) -> list[dict[str, Any]]:
        return self.request("REGIONS", dump=True)

    def totals(self) -> dict[str, Any]:
        (totals,) = self.request("TOTALS", dump=False)
        return totals

    def subscribe(self) -> None:
        self.add_membership(uapi.strings()["MASTER_DMA_GENL_EVENTS"])
        self.listening[self.prid] = self.family

    def join(self, family: str) -> None:
        """Also receive the events of another family on this socket: one queue
        keeps the order in which the kernel sent them.  FamilyMissing if absent."""
        with MasterDmaSocket(family) as other:
            prid = other.prid
            group = other.mcast_groups[uapi.strings()["MASTER_DMA_GENL_EVENTS"]]
        self.asyncore.marshal.msg_map[prid] = message_class()
        self.asyncore.socket.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
        self.listening[prid] = family

    def events(self) -> Iterator[dict[str, Any]]:
        """Events as they come (after subscribe() and any join()), forever.

        Read from the socket itself, not through pyroute2's event loop, so
        that an overrun reaches us: a socket the kernel dropped events for
        (ENOBUFS) gives {"event": "overrun"} and goes on with what is still
        queued.
        """
        raw = self.asyncore.socket
        marshal = self.asyncore.marshal
        while True:
            select.select([raw], [], [])
            try:
                data = raw.recv(RECV_BYTES)
            except BlockingIOError:
                continue
            except OSError as err:
                if err.errno != errno.ENOBUFS:
                    raise
                yield {"family": None, "event": "overrun"}
                continue
            for msg in marshal.parse(data):
                family = self.listening.get(msg["header"]["type"])
                if family and msg["cmd"] == uapi_cmd("EVENT"):
                    yield {"family": family, **decode(msg)}


def uapi_cmd(name: str) -> int:
    return int(getattr(uapi.lib(), f"MASTER_DMA_CMD_{name}"))
