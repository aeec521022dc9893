// SPDX-License-Identifier: GPL-2.0
/*
 * masterdev_iface.c - one interface: sysfs geometry, /dev node, ioctls
 *
 * Opening /dev/<iface> allocates the ring with the current buffers and
 * bufsize; a second open gets -EBUSY; the last close frees it.  write()
 * fills a transmit ring and read() drains a receive ring at the file
 * position (buffer * bufsize + offset); SDI rings can be mapped.  QBUF and
 * DQBUF hand buffers to and from the device in ring order.
 */
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/overflow.h>
#include <linux/uaccess.h>

#include "masterdev.h"

static_assert(sizeof(struct master_dma_summary) == 160);
static_assert(sizeof(struct master_dma_map_entry) == 64);
static_assert(sizeof(struct master_dma_buffer) == 16);

/* Geometry limits: user-reachable, so errors, never warnings. */
static int masterdev_check(u32 buffers, u32 bufsize)
{
	u64 bytes;

	if (buffers < 2 || buffers > READ_ONCE(masterdev_max_buffers))
		return -EINVAL;
	if (!bufsize || bufsize > READ_ONCE(masterdev_max_bufsize))
		return -EINVAL;
	if (check_mul_overflow((u64)buffers, (u64)bufsize, &bytes) ||
	    bytes > READ_ONCE(masterdev_max_ring_bytes))
		return -EINVAL;
	return 0;
}

static ssize_t masterdev_store(struct device *dev, const char *buf,
			       size_t count, bool is_buffers)
{
	struct masterdev_iface *iface = dev_get_drvdata(dev);
	u32 value;
	int ret;

	if (kstrtou32(buf, 0, &value))
		return -EINVAL;
	mutex_lock(&iface->lock);
	if (iface->ring) {
		ret = -EBUSY;
	} else if (is_buffers) {
		ret = masterdev_check(value, iface->bufsize);
		if (!ret)
			iface->buffers = value;
	} else {
		ret = masterdev_check(iface->buffers, value);
		if (!ret)
			iface->bufsize = value;
	}
	mutex_unlock(&iface->lock);
	return ret ?: count;
}

static ssize_t buffers_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct masterdev_iface *iface = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", READ_ONCE(iface->buffers));
}

static ssize_t buffers_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	return masterdev_store(dev, buf, count, true);
}
static DEVICE_ATTR_RW(buffers);

static ssize_t bufsize_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct masterdev_iface *iface = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", READ_ONCE(iface->bufsize));
}

static ssize_t bufsize_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	return masterdev_store(dev, buf, count, false);
}
static DEVICE_ATTR_RW(bufsize);

static struct attribute *masterdev_iface_attrs[] = {
	&dev_attr_buffers.attr,
	&dev_attr_bufsize.attr,
	NULL,
};

static const struct attribute_group masterdev_iface_group = {
	.attrs = masterdev_iface_attrs,
};

const struct attribute_group *masterdev_iface_groups[] = {
	&masterdev_iface_group,
	NULL,
};

static int masterdev_open(struct inode *inode, struct file *file)
{
	struct masterdev_iface *iface =
		container_of(inode->i_cdev, struct masterdev_iface, cdev);
	struct mdma_ring_params params = {
		.dir = iface->dir,
		.tails = iface->tails,
		.ops = iface->ops,
		.name = iface->name,
	};
	struct mdma_ring *ring;
	int ret = 0;

	mutex_lock(&iface->lock);
	if (iface->ring) {
		ret = -EBUSY;
		goto unlock;
	}
	params.buffers = iface->buffers;
	params.bufsize = iface->bufsize;
	ring = mdma_ring_alloc(iface->dma_dev, &params);
	if (IS_ERR(ring)) {
		ret = PTR_ERR(ring);
		goto unlock;
	}
	iface->ring = ring;
	iface->queued = 0;
	iface->head = 0;
	file->private_data = iface;
unlock:
	mutex_unlock(&iface->lock);
	return ret;
}

static int masterdev_release(struct inode *inode, struct file *file)
{
	struct masterdev_iface *iface = file->private_data;

	mutex_lock(&iface->lock);
	mdma_ring_free(iface->ring);
	iface->ring = NULL;
	mutex_unlock(&iface->lock);
	return 0;
}

static ssize_t masterdev_write(struct file *file, const char __user *data,
			       size_t count, loff_t *ppos)
{
	struct masterdev_iface *iface = file->private_data;
	ssize_t ret;

	if (iface->dir != DMA_TO_DEVICE)
		return -EINVAL;
	ret = mdma_ring_copy_from_user(iface->ring, *ppos, data, count);
	if (ret > 0)
		*ppos += ret;
	else if (!ret && count)
		ret = -ENOSPC;
	return ret;
}

static ssize_t masterdev_read(struct file *file, char __user *data,
			      size_t count, loff_t *ppos)
{
	struct masterdev_iface *iface = file->private_data;
	ssize_t ret;

	if (iface->dir != DMA_FROM_DEVICE)
		return -EINVAL;
	ret = mdma_ring_copy_to_user(iface->ring, *ppos, data, count);
	if (ret > 0)
		*ppos += ret;
	return ret;
}

static loff_t masterdev_llseek(struct file *file, loff_t offset, int whence)
{
	struct masterdev_iface *iface = file->private_data;

	return fixed_size_llseek(file, offset, whence,
				 mdma_ring_bytes(iface->ring));
}

static int masterdev_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct masterdev_iface *iface = file->private_data;

	return mdma_ring_mmap(iface->ring, vma);
}

static int masterdev_ioctl_summary(struct masterdev_iface *iface,
				   void __user *argp)
{
	struct master_dma_summary summary;

	mdma_ring_summary(iface->ring, &summary);
	return copy_to_user(argp, &summary, sizeof(summary)) ? -EFAULT : 0;
}

static int masterdev_ioctl_map_entry(struct masterdev_iface *iface,
				     void __user *argp)
{
	struct master_dma_map_entry entry;
	struct mdma_fragment frag;
	int ret;

	if (copy_from_user(&entry, argp, sizeof(entry)))
		return -EFAULT;
	if (entry.flags || entry.pad || entry.pad2)
		return -EINVAL;
	ret = mdma_ring_fragment(iface->ring, entry.index, &frag);
	if (ret)
		return ret;
	entry.flags = frag.flags;
	entry.buffer = frag.buffer;
	entry.part = frag.part;
	entry.page = frag.page;
	entry.offset = frag.offset;
	entry.length = frag.length;
	entry.dma_addr = frag.dma_addr;
	entry.desc_dma = frag.desc_dma;
	entry.next_desc = frag.next_desc;
	return copy_to_user(argp, &entry, sizeof(entry)) ? -EFAULT : 0;
}

static int masterdev_ioctl_qbuf(struct masterdev_iface *iface,
				void __user *argp)
{
	struct master_dma_buffer b;
	int ret = 0;

	if (copy_from_user(&b, argp, sizeof(b)))
		return -EFAULT;
	if (b.flags || b.pad)
		return -EINVAL;
	mutex_lock(&iface->lock);
	if (iface->queued == iface->buffers)
		ret = -EAGAIN;
	else if (b.index != iface->head || !b.bytesused ||
		 b.bytesused > iface->bufsize)
		ret = -EINVAL;
	if (!ret) {
		mdma_ring_sync_for_device(iface->ring, b.index);
		iface->head = (iface->head + 1) % iface->buffers;
		iface->queued++;
	}
	mutex_unlock(&iface->lock);
	return ret;
}

static int masterdev_ioctl_dqbuf(struct masterdev_iface *iface,
				 void __user *argp)
{
	struct master_dma_buffer b = { };

	mutex_lock(&iface->lock);
	if (!iface->queued) {
		mutex_unlock(&iface->lock);
		return -EAGAIN;
	}
	b.index = (iface->head + iface->buffers - iface->queued) %
		  iface->buffers;
	b.bytesused = iface->bufsize;
	mdma_ring_sync_for_cpu(iface->ring, b.index);
	iface->queued--;
	mutex_unlock(&iface->lock);
	return copy_to_user(argp, &b, sizeof(b)) ? -EFAULT : 0;
}

static long masterdev_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct masterdev_iface *iface = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case MASTER_DMA_IOC_SUMMARY:
		return masterdev_ioctl_summary(iface, argp);
	case MASTER_DMA_IOC_MAP_ENTRY:
		return masterdev_ioctl_map_entry(iface, argp);
	case MASTER_DMA_IOC_QBUF:
		return masterdev_ioctl_qbuf(iface, argp);
	case MASTER_DMA_IOC_DQBUF:
		return masterdev_ioctl_dqbuf(iface, argp);
	default:
		return -ENOTTY;
	}
}

const struct file_operations masterdev_fops = {
	.owner = THIS_MODULE,
	.open = masterdev_open,
	.release = masterdev_release,
	.read = masterdev_read,
	.write = masterdev_write,
	.llseek = masterdev_llseek,
	.mmap = masterdev_mmap,
	.unlocked_ioctl = masterdev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};
