/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * master_dma.h - user-space ABI of the masterdma reference driver
 *
 * The interfaces (/dev/asitx0, /dev/asirx0, /dev/sditx0, /dev/sdirx0) each own
 * one ring of DMA buffers from the Master ring allocator while open.  These
 * ioctls report the ring's layout and hand buffers between user space and
 * the device.  /dev/himem, the test door of the high-memory allocator
 * (himemtest.ko, root with CAP_SYS_RAWIO), allocates, frees and lists
 * regions, maps them and has the edu device move bytes to and from them.
 * Every structure has fixed-size fields, natural alignment and explicit
 * padding that the kernel requires to be zero.
 */
#ifndef _UAPI_MASTER_DMA_H
#define _UAPI_MASTER_DMA_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * enum master_dma_tails - where the tails of the buffers go
 * @MASTER_DMA_TAILS_PACKED: as many tails per page as fit (DVB ASI)
 * @MASTER_DMA_TAILS_OWN_PAGE: each tail on a page of its own (SDI, mmap-able)
 */
enum master_dma_tails {
	MASTER_DMA_TAILS_PACKED = 0,
	MASTER_DMA_TAILS_OWN_PAGE = 1,
};

/**
 * enum master_dma_alloc_kind - how an array of the ring was allocated
 * @MASTER_DMA_ALLOC_KMALLOC: from the slab or page allocator (kmalloc)
 * @MASTER_DMA_ALLOC_VMALLOC: from vmalloc, after kmalloc failed
 */
enum master_dma_alloc_kind {
	MASTER_DMA_ALLOC_KMALLOC = 0,
	MASTER_DMA_ALLOC_VMALLOC = 1,
};

/**
 * enum master_dma_desc_format - the DMA descriptor format of a ring
 * @MASTER_DMA_DESC_LSDMA: Linear Systems DMA controller, 7 x le32: csr (16-bit
 *	size, INT, EOL), source, destination, next, and their high halves
 * @MASTER_DMA_DESC_PLX9080: PLX 9080, 4 x le32: PCI address, local address,
 *	size, next (flags in its low four bits)
 */
enum master_dma_desc_format {
	MASTER_DMA_DESC_LSDMA = 0,
	MASTER_DMA_DESC_PLX9080 = 1,
};

/**
 * enum master_dma_zone - the memory zones a ring's pages can come from
 * @MASTER_DMA_ZONE_NORMAL: any RAM (the device reaches all of it, or an
 *	IOMMU translates)
 * @MASTER_DMA_ZONE_DMA32: RAM below 4 GiB (ZONE_DMA32)
 * @MASTER_DMA_ZONE_DMA: the lowest RAM (ZONE_DMA: 16 MiB on x86)
 */
enum master_dma_zone {
	MASTER_DMA_ZONE_NORMAL = 0,
	MASTER_DMA_ZONE_DMA32 = 1,
	MASTER_DMA_ZONE_DMA = 2,
};

/* Flags of a map entry, decoded from its descriptor. */
#define MASTER_DMA_FRAG_INT		_BITUL(0)	/* interrupt when done */
#define MASTER_DMA_FRAG_EOL		_BITUL(1)	/* end of the chain */

/**
 * struct master_dma_summary - the layout of a ring, as the kernel made it
 * @buffers: number of buffers
 * @bufsize: bytes per buffer
 * @page_size: PAGE_SIZE of the kernel
 * @pointer_size: bytes per entry of the page and pointer arrays
 * @tails: enum master_dma_tails
 * @direction: 1 to the device, 2 from the device (enum dma_data_direction)
 * @tail_size: bufsize % page_size
 * @pointers_per_buf: pages and tail of one buffer
 * @full_pages: whole pages of all buffers
 * @tails_per_page: tails sharing one page (0: no tails)
 * @tail_pages: pages holding tails
 * @total_pages: pages allocated for buffers
 * @pointers: fragments (pages and tails) in access order
 * @page_array_bytes: size of the page array as allocated (ksize or vmalloc)
 * @pointer_array_bytes: size of the access-order array as allocated
 * @page_array_kind: enum master_dma_alloc_kind of the page array
 * @pointer_array_kind: enum master_dma_alloc_kind of the pointer array
 * @bytes_required: buffers * bufsize + (total_pages + pointers) * pointer_size
 * @bytes_allocated: total_pages * page_size + page_array_bytes +
 *	pointer_array_bytes
 * @desc_format: enum master_dma_desc_format
 * @desc_size: bytes of one descriptor
 * @desc_stride: bytes between descriptors in the pool (aligned size)
 * @pad: zero
 * @descriptors: descriptors in the ring, one per fragment
 * @desc_bytes: descriptors * desc_stride
 * @desc_array_bytes: size of the array of descriptor pointers and handles
 * @page_dma_array_bytes: size of the array of page DMA handles
 * @dma_limit: highest bus address the ring may use: the device's DMA mask
 *	and bus limit and the descriptor format's address width, whichever
 *	is lowest
 * @iommu: 1 if an IOMMU translates the device's bus addresses, else 0
 * @zone: enum master_dma_zone the last pages were taken from (allocation
 *	starts at the zone the limit implies and steps down when a page is
 *	out of reach)
 * @pages_dma: pages of the ring in ZONE_DMA
 * @pages_dma32: pages of the ring in ZONE_DMA32
 * @pages_normal: pages of the ring in any higher zone
 * @bounced_pages: pages whose bus address is neither their physical address
 *	nor an IOMMU's: mapped through a bounce buffer (swiotlb=force only)
 */
struct master_dma_summary {
	__u32 buffers;
	__u32 bufsize;
	__u32 page_size;
	__u32 pointer_size;
	__u32 tails;
	__u32 direction;
	__u32 tail_size;
	__u32 pointers_per_buf;
	__u64 full_pages;
	__u64 tails_per_page;
	__u64 tail_pages;
	__u64 total_pages;
	__u64 pointers;
	__u64 page_array_bytes;
	__u64 pointer_array_bytes;
	__u32 page_array_kind;
	__u32 pointer_array_kind;
	__u64 bytes_required;
	__u64 bytes_allocated;
	__u32 desc_format;
	__u32 desc_size;
	__u32 desc_stride;
	__u32 pad;
	__u64 descriptors;
	__u64 desc_bytes;
	__u64 desc_array_bytes;
	__u64 page_dma_array_bytes;
	__u64 dma_limit;
	__u32 iommu;
	__u32 zone;
	__u64 pages_dma;
	__u64 pages_dma32;
	__u64 pages_normal;
	__u64 bounced_pages;
};

/**
 * struct master_dma_map_entry - one fragment (page or tail) of a ring
 * @index: in: fragment number in access order, 0 to pointers - 1
 * @flags: in: must be 0; out: MASTER_DMA_FRAG_* of its descriptor
 * @buffer: out: the buffer it belongs to
 * @part: out: its place in the buffer (0 .. pointers_per_buf - 1)
 * @page: out: index of its page in the page array
 * @offset: out: byte offset in that page
 * @length: out: bytes
 * @pad: must be 0
 * @pad2: must be 0
 * @dma_addr: out: bus address of the fragment, as in its descriptor
 * @desc_dma: out: bus address of its descriptor
 * @next_desc: out: bus address its descriptor chains to (flags removed)
 *
 * Without an IOMMU a bus address is a physical address: the three read 0
 * unless the caller has CAP_SYS_ADMIN.
 */
struct master_dma_map_entry {
	__u64 index;
	__u32 flags;
	__u32 buffer;
	__u32 part;
	__u32 page;
	__u32 offset;
	__u32 length;
	__u32 pad;
	__u32 pad2;
	__u64 dma_addr;
	__u64 desc_dma;
	__u64 next_desc;
};

/**
 * struct master_dma_buffer - a buffer handed to or taken from the device
 * @index: QBUF in: the buffer to queue, which must be the next in ring order;
 *	DQBUF out: the buffer dequeued
 * @flags: must be 0
 * @bytesused: QBUF in: bytes of data (1 .. bufsize); DQBUF out: bufsize
 *
 * QBUF hands the oldest buffer user space owns to the device (a filled one
 * for transmit, an emptied one for receive); -EAGAIN if it owns none.  DQBUF
 * takes back the oldest buffer the device finished, waiting for one unless
 * the file is non-blocking (-EAGAIN).  At open user space owns every
 * transmit buffer and the device every receive buffer.
 * @pad: must be 0
 */
struct master_dma_buffer {
	__u32 index;
	__u32 flags;
	__u32 bytesused;
	__u32 pad;
};

/**
 * struct master_dma_edu_check - prove a ring's descriptors by device DMA
 * @seed: in: seeds the choice of fragments and the bytes moved
 * @flags: in: must be 0
 * @checked: out: fragments moved by the device and compared
 * @failed: out: fragments whose bytes were not where the descriptor said
 * @transfers: out: device transfers made
 * @first_failed: out: lowest failing fragment index, or ~0 if none failed
 *
 * Rings of up to 64 descriptors are checked whole; larger ones on a sample
 * of at least 32 fragments plus the first and last of every buffer that a
 * sampled fragment belongs to.  A transmit fragment is filled by the CPU,
 * read by the device from the address in its descriptor and written back
 * to a check page; a receive fragment is written by the device at the
 * address in its descriptor.  The check overwrites the fragments it uses.
 */
struct master_dma_edu_check {
	__u64 seed;
	__u32 flags;
	__u32 checked;
	__u32 failed;
	__u32 transfers;
	__u64 first_failed;
};

/**
 * struct master_dma_himem_region - a region of the high-memory allocator
 * @start: physical address: out of HIMEM_ALLOC, in to HIMEM_FREE
 * @size: bytes: in to HIMEM_ALLOC, out rounded up to whole pages
 *
 * mmap() of /dev/himem at offset @start maps the region (PFN map).
 */
struct master_dma_himem_region {
	__u64 start;
	__u64 size;
};

/**
 * struct master_dma_himem_list - the regions the test door holds
 * @regions: user pointer to an array of struct master_dma_himem_region
 * @count: in: room in the array; out: regions held (may exceed the room)
 * @pad: must be 0
 */
struct master_dma_himem_list {
	__u64 regions;
	__u32 count;
	__u32 pad;
};

/* The edu device writes to the region (else it reads from it). */
#define MASTER_DMA_HIMEM_EDU_TO_RAM	_BITUL(0)
#define MASTER_DMA_HIMEM_EDU_FLAGS	MASTER_DMA_HIMEM_EDU_TO_RAM

/**
 * struct master_dma_himem_edu - one edu transfer to or from a region
 * @start: the region
 * @offset: where in the region
 * @len: bytes, 1 to 2048
 * @edu_offset: where in the device's buffer; @edu_offset + @len < 4096
 * @flags: MASTER_DMA_HIMEM_EDU_TO_RAM or 0
 * @pad: must be 0
 *
 * The device addresses the region by dma_map_resource(), as a driver would.
 */
struct master_dma_himem_edu {
	__u64 start;
	__u64 offset;
	__u32 len;
	__u32 edu_offset;
	__u32 flags;
	__u32 pad;
};

/*
 * Generic netlink.  mdma.ko registers the family MASTER_DMA_GENL_MDMA,
 * allocator.ko the family MASTER_DMA_GENL_ALLOCATOR; both speak the
 * commands and attributes below, and announce changes in the multicast
 * group MASTER_DMA_GENL_EVENTS.  Every operation needs CAP_NET_ADMIN, and
 * so does joining the group; in the allocator family, whose replies and
 * events carry physical addresses, each also needs CAP_SYS_ADMIN (-EPERM
 * otherwise).  A request carries at most MASTER_DMA_A_FLAGS,
 * and no flag is defined yet: anything else is refused with -EINVAL.
 */
#define MASTER_DMA_GENL_MDMA		"mdma"
#define MASTER_DMA_GENL_ALLOCATOR	"allocator"
#define MASTER_DMA_GENL_EVENTS		"events"
#define MASTER_DMA_GENL_VERSION		1

/**
 * enum master_dma_cmd - generic netlink commands
 * @MASTER_DMA_CMD_UNSPEC: none
 * @MASTER_DMA_CMD_RINGS: dump (mdma): one message per ring
 * @MASTER_DMA_CMD_REGIONS: dump (allocator): one message per region
 * @MASTER_DMA_CMD_TOTALS: the family's totals, one message
 * @MASTER_DMA_CMD_EVENT: multicast: MASTER_DMA_A_EVENT and what it is about
 * @__MASTER_DMA_CMD_MAX: one past the last
 */
enum master_dma_cmd {
	MASTER_DMA_CMD_UNSPEC,
	MASTER_DMA_CMD_RINGS,
	MASTER_DMA_CMD_REGIONS,
	MASTER_DMA_CMD_TOTALS,
	MASTER_DMA_CMD_EVENT,
	__MASTER_DMA_CMD_MAX
};

/**
 * enum master_dma_event - what a MASTER_DMA_CMD_EVENT announces
 * @MASTER_DMA_EVENT_NONE: none
 * @MASTER_DMA_EVENT_RING_ALLOCATED: a ring (its name, device, summary)
 * @MASTER_DMA_EVENT_RING_FREED: a ring is about to be freed
 * @MASTER_DMA_EVENT_REGION_ALLOCATED: a region (start, size, owner)
 * @MASTER_DMA_EVENT_REGION_FREED: its owner freed a region
 * @MASTER_DMA_EVENT_REGION_RECLAIMED: a region taken back from its
 *	unloading owner
 */
enum master_dma_event {
	MASTER_DMA_EVENT_NONE,
	MASTER_DMA_EVENT_RING_ALLOCATED,
	MASTER_DMA_EVENT_RING_FREED,
	MASTER_DMA_EVENT_REGION_ALLOCATED,
	MASTER_DMA_EVENT_REGION_FREED,
	MASTER_DMA_EVENT_REGION_RECLAIMED,
};

/**
 * enum master_dma_attr - generic netlink attributes
 * @MASTER_DMA_A_UNSPEC: none
 * @MASTER_DMA_A_PAD: padding of 64-bit attributes
 * @MASTER_DMA_A_FLAGS: u32, in requests: must be 0
 * @MASTER_DMA_A_EVENT: u32, enum master_dma_event
 * @MASTER_DMA_A_NAME: string, the ring's name
 * @MASTER_DMA_A_DEVICE: string, the device the ring is mapped for
 * @MASTER_DMA_A_DRIVER: string, that device's driver
 * @MASTER_DMA_A_SUMMARY: binary, struct master_dma_summary of the ring
 * @MASTER_DMA_A_START: u64, a region's physical address
 * @MASTER_DMA_A_SIZE: u64, a region's or the claim's size in bytes
 * @MASTER_DMA_A_OWNER: string, the module owning a region ("kernel":
 *	built-in code)
 * @MASTER_DMA_A_RINGS: u32, rings allocated
 * @MASTER_DMA_A_PAGES: u64, pages held by rings
 * @MASTER_DMA_A_BASE: u64, start of the claim
 * @MASTER_DMA_A_FREE: u64, free bytes of the claim
 * @MASTER_DMA_A_LARGEST_FREE: u64, largest free extent
 * @MASTER_DMA_A_REGIONS: u32, regions allocated
 * @MASTER_DMA_A_ENABLED: u8, 0 when the allocator is disabled
 * @MASTER_DMA_A_EVENT_SEQ: u64, in events: the family's count of events
 *	since its module loaded, from 1; a gap is events a listener did not
 *	get (its socket overran: ENOBUFS) or the kernel could not send
 * @__MASTER_DMA_A_MAX: one past the last
 */
enum master_dma_attr {
	MASTER_DMA_A_UNSPEC,
	MASTER_DMA_A_PAD,
	MASTER_DMA_A_FLAGS,
	MASTER_DMA_A_EVENT,
	MASTER_DMA_A_NAME,
	MASTER_DMA_A_DEVICE,
	MASTER_DMA_A_DRIVER,
	MASTER_DMA_A_SUMMARY,
	MASTER_DMA_A_START,
	MASTER_DMA_A_SIZE,
	MASTER_DMA_A_OWNER,
	MASTER_DMA_A_RINGS,
	MASTER_DMA_A_PAGES,
	MASTER_DMA_A_BASE,
	MASTER_DMA_A_FREE,
	MASTER_DMA_A_LARGEST_FREE,
	MASTER_DMA_A_REGIONS,
	MASTER_DMA_A_ENABLED,
	MASTER_DMA_A_EVENT_SEQ,
	__MASTER_DMA_A_MAX
};

#define MASTER_DMA_A_MAX	(__MASTER_DMA_A_MAX - 1)

/**
 * DOC: Errors of the ioctls
 *
 * EFAULT for an argument the kernel cannot read or write; EINVAL for a
 * field out of range, or a flag or pad that is not 0; ENOTTY for a command
 * the node does not have; EAGAIN when QBUF or DQBUF has no buffer to hand
 * over, or a non-blocking call would wait; EBUSY when an edu check or a
 * region's mapping is in the way, for QBUF when a read() or write() is
 * half-way through the buffer, for the edu check when the other end of the
 * pair is open; ENODEV once the ring's device is gone; EIO or EFAULT from
 * DQBUF once the engine stopped (see below); ENOMEM when
 * memory runs out; EPERM without the capability (/dev/himem:
 * CAP_SYS_RAWIO); EIO and ETIMEDOUT from the edu device (the edu check,
 * HIMEM_EDU); ERANGE for a HIMEM_EDU range the device cannot take; EINTR
 * when a signal ends a wait.  A DQBUF whose struct the kernel cannot write
 * (EFAULT) hands over no buffer: the next DQBUF gets the same one.
 */

/**
 * DOC: Errors of open, read, write, poll and fsync
 *
 * Access is by the node's file mode (root's, 0600): EACCES (the VFS) for
 * anyone else's open.  A process holding an open file (inherited, or passed
 * to it) may make every call on it; only MAP_ENTRY's addresses also need
 * CAP_SYS_ADMIN (they read as 0 without it).
 * open(): EBUSY when the node is already open or the other end of its pair
 * is in an edu check; EINVAL when the other end is open with another
 * geometry, or the geometry no longer fits masterdev's limits (lowered since
 * it was set); ENODEV without a DMA device; ENOMEM when the ring cannot be
 * allocated; EINTR when a fatal signal ends the allocation (only the dying
 * caller sees it); ENXIO or ENOENT while masterdev unloads (the node goes).
 * read() and readv() (receive nodes) return what is ready, at most the
 * count, across every iovec; write() and writev() (transmit nodes) queue
 * the whole count, unless a signal ends the wait after some bytes were
 * queued: then, as a pipe's, they return the bytes queued.
 * Both give EINVAL on a node of the other direction; EFAULT for a
 * buffer the kernel cannot read or write, when nothing was moved; EAGAIN
 * when a non-blocking call would
 * wait; EINTR when a signal ends a wait before anything was moved (a
 * handler without SA_RESTART; a stop and continue restarts such a call); ENODEV
 * once the device is gone; EIO or EFAULT once the pair's bus-address engine
 * stopped on a descriptor it could not follow (said in the kernel log).
 * poll() reports EPOLLIN (receive) or EPOLLOUT (transmit) when a call would
 * not wait, and EPOLLERR once the device is gone or the engine stopped.
 * fsync() of a transmitter waits until the device has taken every queued
 * byte; of a receiver, discards what was not read: EAGAIN when a
 * non-blocking caller finds another call in progress; EINTR when a signal
 * ends the wait, as for read(); ENODEV, EIO or EFAULT as for read().
 * The nodes are streams (stream_open()): lseek(), pread() and pwrite() give
 * ESPIPE.  They do not splice: splice() gives EINVAL, or the VFS's EBADF
 * for a file not open in the direction the splice moves.  open() with
 * O_DIRECT gives the VFS's EINVAL after the node's own open succeeded: the
 * ring is released as for a close.
 * close() of a transmitter waits, as fsync() does, until the device has
 * taken every queued byte, with no time limit while a receiver is open and
 * not reading (O_NONBLOCK does not change that): a fatal signal ends the
 * wait, and a task that exits waits at most closing_wait seconds without
 * progress; the bytes given up are counted in the node's dropped attribute.
 */

/**
 * DOC: Errors of mmap
 *
 * Only SDI rings (MASTER_DMA_TAILS_OWN_PAGE) map, shared, page N of the
 * mapping being page N of the ring in access order: EINVAL for a packed
 * ring, MAP_PRIVATE, or a range beyond the ring; EACCES (the VFS) for a
 * protection the file's access mode does not allow (PROT_WRITE needs
 * O_RDWR; a file opened O_WRONLY maps nothing); ENODEV once the device is
 * gone; ENOMEM when the kernel runs out of memory or mappings.  /dev/himem
 * maps a region at the offset of its physical address: EINVAL for a range
 * that is not inside one region the door holds.
 */

/**
 * DOC: Errors of the sysfs attributes and module parameters
 *
 * A write of buffers or bufsize: EINVAL for text that is not one number
 * (decimal, 0x hex or 0 octal), or a geometry outside the limits of
 * masterdev's max_buffers, max_bufsize and max_ring_bytes parameters;
 * EBUSY while the node is open.  A write of one of those parameters: EINVAL
 * for text that is not a number; ERANGE for a number past the parameter's
 * type (the kernel's parameter parser).
 */

/**
 * DOC: Errors of generic netlink
 *
 * From the kernel's generic netlink core: ENOENT for a family number no
 * family has; EOPNOTSUPP for a command the family does not have, or a dump
 * of one that only answers requests (or the reverse); EINVAL or ERANGE
 * for an attribute its policy refuses (the extended ACK names it), EINVAL
 * for a message too short for its headers.  From the families: EINVAL for
 * an attribute or flag a request does not take; EPERM without the
 * capability (see above).
 */
#define MASTER_DMA_IOC_MAGIC		0xB8

#define MASTER_DMA_IOC_SUMMARY \
	_IOR(MASTER_DMA_IOC_MAGIC, 0x00, struct master_dma_summary)
#define MASTER_DMA_IOC_MAP_ENTRY \
	_IOWR(MASTER_DMA_IOC_MAGIC, 0x01, struct master_dma_map_entry)
#define MASTER_DMA_IOC_QBUF \
	_IOW(MASTER_DMA_IOC_MAGIC, 0x02, struct master_dma_buffer)
#define MASTER_DMA_IOC_DQBUF \
	_IOR(MASTER_DMA_IOC_MAGIC, 0x03, struct master_dma_buffer)
#define MASTER_DMA_IOC_EDU_CHECK \
	_IOWR(MASTER_DMA_IOC_MAGIC, 0x04, struct master_dma_edu_check)
#define MASTER_DMA_IOC_HIMEM_ALLOC \
	_IOWR(MASTER_DMA_IOC_MAGIC, 0x10, struct master_dma_himem_region)
#define MASTER_DMA_IOC_HIMEM_FREE \
	_IOW(MASTER_DMA_IOC_MAGIC, 0x11, struct master_dma_himem_region)
#define MASTER_DMA_IOC_HIMEM_LIST \
	_IOWR(MASTER_DMA_IOC_MAGIC, 0x12, struct master_dma_himem_list)
#define MASTER_DMA_IOC_HIMEM_EDU \
	_IOW(MASTER_DMA_IOC_MAGIC, 0x13, struct master_dma_himem_edu)

#endif /* _UAPI_MASTER_DMA_H */
