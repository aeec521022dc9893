// SPDX-License-Identifier: GPL-2.0
/*
 * allocator_linked.c - the allocator's own source, linked into himemlink
 *
 * Built with ALLOCATOR_LINKED: nothing is exported and there is no
 * module_init, as the seed's manual says of a driver that links the
 * allocator in.  Its parameters and debugfs directory carry this module's
 * name.
 */
#include "allocator/allocator.c"
