/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels masterdma supports (6.1 and 6.12 LTS)
 * lives here, so that the rest of the code is written against one API.
 * Add a shim only after checking the interface in both trees.
 */
#ifndef MASTERDMA_COMPAT_H
#define MASTERDMA_COMPAT_H

#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
/* 6.3 made vm_flags read-only and added the helpers that change it. */
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

#ifndef PCI_IRQ_INTX
/* 6.8 renamed PCI_IRQ_LEGACY; 6.12 no longer has the old name. */
#define PCI_IRQ_INTX PCI_IRQ_LEGACY
#endif

#endif /* MASTERDMA_COMPAT_H */
