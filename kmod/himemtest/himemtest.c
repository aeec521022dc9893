// SPDX-License-Identifier: GPL-2.0
/*
 * himemtest - /dev/himem, the tests' door to the high-memory allocator
 *
 * Root with CAP_SYS_RAWIO may allocate regions (cleared before anyone can
 * see them), free them, list them, map one into user space with a PFN map
 * (mmap at offset = the region's start; nothing else can be mapped), and
 * have the edu device read or write part of one by DMA, through the
 * dma_map_resource() address and the helper masterdev exports.  The regions
 * belong to this module; a region that is mapped cannot be freed, and the
 * ones left are freed at unload.  A free of anything that is not one of
 * its regions goes to the allocator as is, to show how it refuses.
 * Its allocations and mappings have fault points: fail_nth, fail_times and
 * fail_log in /sys/kernel/debug/himemtest (master/faults.h).
 * test_alloc_delay_ms widens the window between allocating a region and
 * recording it, so that a test can send a FREE of the address into it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "compat.h"
#include "master/allocator.h"
#include "master/faults.h"
#include "master/masterdev.h"
#include "uapi/master_dma.h"

static_assert(sizeof(struct master_dma_himem_region) == 16);
static_assert(sizeof(struct master_dma_himem_list) == 16);
static_assert(sizeof(struct master_dma_himem_edu) == 32);

struct himem_region {
	unsigned long start;
	unsigned long size;
	unsigned int maps;	/* VMAs that map it */
};

static DEFINE_MUTEX(himem_lock);	/* the regions and their map counts */
static DEFINE_XARRAY(himem_regions);	/* by the PFN of their start */
static struct master_faults himem_faults = MASTER_FAULTS_INIT;
static struct dentry *himem_debugfs;

static unsigned int test_alloc_delay_ms;
module_param(test_alloc_delay_ms, uint, 0600);
MODULE_PARM_DESC(test_alloc_delay_ms,
		 "ms an ALLOC waits between allocating a region and recording it (default: 0)");

/* The region that starts at @start, or NULL; lock held. */
static struct himem_region *himem_find(u64 start)
{
	struct himem_region *r = xa_load(&himem_regions, PHYS_PFN(start));

	return r && r->start == start ? r : NULL;
}

/* Forget and free the region at @start unless it is mapped; lock held. */
static void himem_drop(unsigned long start)
{
	struct himem_region *r = himem_find(start);

	if (!r || r->maps)
		return;
	xa_erase(&himem_regions, PHYS_PFN(r->start));
	allocator_free_dma(r->start);
	kfree(r);
}

/*
 * Allocate and record under one lock, so that a FREE of the address about
 * to be returned cannot slip in between.  The answer is copied out of the
 * lock (a fault takes mmap_lock, which mmap holds when it takes ours); if
 * it cannot be, the region goes back.
 */
static int himem_ioctl_alloc(struct master_dma_himem_region __user *arg)
{
	struct master_dma_himem_region req;
	struct himem_region *r;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (!req.size || req.size > ULONG_MAX - PAGE_SIZE)
		return -EINVAL;
	r = master_fault(&himem_faults, "region") ? NULL :
	    kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->size = PAGE_ALIGN(req.size);
	mutex_lock(&himem_lock);
	r->start = allocator_allocate_dma(req.size, GFP_KERNEL | __GFP_ZERO);
	if (r->start && READ_ONCE(test_alloc_delay_ms))
		msleep(READ_ONCE(test_alloc_delay_ms));
	ret = !r->start ? -ENOMEM :
	      master_fault(&himem_faults, "xarray") ? -ENOMEM :
	      xa_insert(&himem_regions, PHYS_PFN(r->start), r, GFP_KERNEL);
	if (ret && r->start)
		allocator_free_dma(r->start);
	mutex_unlock(&himem_lock);
	if (ret) {
		kfree(r);
		return ret;
	}
	req.start = r->start;
	req.size = r->size;
	if (!copy_to_user(arg, &req, sizeof(req)))
		return 0;
	mutex_lock(&himem_lock);
	himem_drop(req.start);
	mutex_unlock(&himem_lock);
	return -EFAULT;
}

static int himem_ioctl_free(struct master_dma_himem_region __user *arg)
{
	struct master_dma_himem_region req;
	struct himem_region *r;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	mutex_lock(&himem_lock);
	r = himem_find(req.start);
	if (r && r->maps) {
		ret = -EBUSY;
	} else {
		ret = allocator_free_dma(req.start);
		if (r && !ret) {
			xa_erase(&himem_regions, PHYS_PFN(r->start));
			kfree(r);
		}
	}
	mutex_unlock(&himem_lock);
	return ret;
}

/* Copied out of the lock: a fault on the user's buffer takes mmap_lock. */
static int himem_ioctl_list(struct master_dma_himem_list __user *arg)
{
	struct master_dma_himem_region *entries;
	struct master_dma_himem_list req;
	u32 total = 0, n, i = 0;
	struct himem_region *r;
	unsigned long pfn;
	int ret = 0;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.pad)
		return -EINVAL;
	mutex_lock(&himem_lock);
	xa_for_each(&himem_regions, pfn, r)
		total++;
	n = min(total, req.count);
	entries = master_fault(&himem_faults, "list") ? NULL :
		  kvcalloc(n, sizeof(*entries), GFP_KERNEL);
	xa_for_each(&himem_regions, pfn, r) {
		if (!entries || i == n)
			break;
		entries[i].start = r->start;
		entries[i++].size = r->size;
	}
	mutex_unlock(&himem_lock);
	if (!entries)
		return -ENOMEM;
	if (copy_to_user(u64_to_user_ptr(req.regions), entries, n * sizeof(*entries)))
		ret = -EFAULT;
	kvfree(entries);
	return ret ?: put_user(total, &arg->count);
}

/* Can @dev reach [@phys, @phys + @len) without an IOMMU's help? */
static bool himem_edu_reaches(struct device *dev, phys_addr_t phys, u32 len)
{
	return compat_iommu_translates(dev) ||
	       phys + len - 1 <= dma_get_mask(dev);
}

static int himem_edu_transfer(struct master_dma_himem_edu *req, phys_addr_t phys)
{
	bool to_ram = req->flags & MASTER_DMA_HIMEM_EDU_TO_RAM;
	enum dma_data_direction dir = to_ram ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	struct device *dev = masterdev_edu_device();
	dma_addr_t dma;
	int ret;

	if (!dev)
		return -ENODEV;
	if (!himem_edu_reaches(dev, phys, req->len)) {
		ret = -ERANGE;
		goto put;
	}
	dma = master_fault(&himem_faults, "map") ? DMA_MAPPING_ERROR :
	      dma_map_resource(dev, phys, req->len, dir, 0);
	if (dma_mapping_error(dev, dma)) {
		ret = -EIO;
		goto put;
	}
	ret = masterdev_edu_dma(dev, dma, req->edu_offset, req->len, to_ram);
	dma_unmap_resource(dev, dma, req->len, dir, 0);
put:
	put_device(dev);
	return ret;
}

static int himem_ioctl_edu(struct master_dma_himem_edu __user *arg)
{
	struct master_dma_himem_edu req;
	struct himem_region *r;
	int ret = -EINVAL;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.pad || req.flags & ~MASTER_DMA_HIMEM_EDU_FLAGS || !req.len ||
	    req.len > MASTERDEV_EDU_MAX)
		return -EINVAL;
	mutex_lock(&himem_lock);	/* the region cannot go while in use */
	r = himem_find(req.start);
	if (r && req.offset < r->size && req.len <= r->size - req.offset)
		ret = himem_edu_transfer(&req, r->start + req.offset);
	mutex_unlock(&himem_lock);
	return ret;
}

static long himem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case MASTER_DMA_IOC_HIMEM_ALLOC:
		return himem_ioctl_alloc(uarg);
	case MASTER_DMA_IOC_HIMEM_FREE:
		return himem_ioctl_free(uarg);
	case MASTER_DMA_IOC_HIMEM_LIST:
		return himem_ioctl_list(uarg);
	case MASTER_DMA_IOC_HIMEM_EDU:
		return himem_ioctl_edu(uarg);
	default:
		return -ENOTTY;
	}
}

static void himem_vma_open(struct vm_area_struct *vma)
{
	struct himem_region *r = vma->vm_private_data;

	mutex_lock(&himem_lock);
	r->maps++;
	mutex_unlock(&himem_lock);
}

static void himem_vma_close(struct vm_area_struct *vma)
{
	struct himem_region *r = vma->vm_private_data;

	mutex_lock(&himem_lock);
	r->maps--;
	mutex_unlock(&himem_lock);
}

/*
 * .access: debuggers read and write the region through /proc/<pid>/mem,
 * ptrace and process_vm_readv, as they do /dev/mem and PCI resource files.
 */
static const struct vm_operations_struct himem_vm_ops = {
	.open = himem_vma_open,
	.close = himem_vma_close,
	.access = generic_access_phys,
};

/* Map the region that starts at the offset, no more than its size. */
static int himem_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long len = vma->vm_end - vma->vm_start;
	struct himem_region *r;
	int ret = -EINVAL;

	mutex_lock(&himem_lock);
	r = himem_find(PFN_PHYS(vma->vm_pgoff));
	if (r && len <= r->size) {
		vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
		ret = remap_pfn_range(vma, vma->vm_start, vma->vm_pgoff, len,
				      vma->vm_page_prot);
	}
	if (!ret) {
		vma->vm_private_data = r;
		vma->vm_ops = &himem_vm_ops;
		r->maps++;
	}
	mutex_unlock(&himem_lock);
	return ret;
}

static int himem_open(struct inode *inode, struct file *file)
{
	return capable(CAP_SYS_RAWIO) ? 0 : -EPERM;
}

static const struct file_operations himem_fops = {
	.owner = THIS_MODULE,
	.open = himem_open,
	.unlocked_ioctl = himem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = himem_mmap,
};

static struct miscdevice himem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "himem",
	.fops = &himem_fops,
	.mode = 0600,
};

static int __init himem_init(void)
{
	int ret = misc_register(&himem_misc);

	if (ret)
		return ret;
	himem_debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	master_faults_debugfs(&himem_faults, himem_debugfs);
	return 0;
}
module_init(himem_init);

/* No file is open (it holds the module), so no region is mapped. */
static void __exit himem_exit(void)
{
	struct himem_region *r;
	unsigned long pfn;

	debugfs_remove_recursive(himem_debugfs);
	misc_deregister(&himem_misc);
	xa_for_each(&himem_regions, pfn, r) {
		allocator_free_dma(r->start);
		kfree(r);
	}
	xa_destroy(&himem_regions);
}
module_exit(himem_exit);

MODULE_DESCRIPTION("The tests' door to the high-memory allocator: /dev/himem");
MODULE_LICENSE("GPL");
