// SPDX-License-Identifier: GPL-2.0
/*
 * masterdev_iface.c - one interface: sysfs geometry, /dev node, ioctls
 *
 * Opening /dev/<iface> allocates the ring with the current buffers and
 * bufsize, mapped for the card's DMA device; a second open gets -EBUSY; the
 * last close frees it.  The interfaces are streams: write() fills transmit
 * buffers in ring order and hands each full one to the device, read() takes
 * the buffers the device filled; both block (or give -EAGAIN) while the
 * device owns every buffer, and poll() says when they would not.  SDI rings
 * can be mapped and driven with QBUF/DQBUF instead.  The transmitter of a
 * pair is cabled to its receiver: the bus-address engine moves the bytes
 * once both are open, which needs the same geometry on both (-EINVAL).
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "masterdev.h"
#include "masterdev_test.h"

static_assert(sizeof(struct master_dma_summary) == 208);
static_assert(sizeof(struct master_dma_map_entry) == 64);
static_assert(sizeof(struct master_dma_buffer) == 16);
static_assert(sizeof(struct master_dma_edu_check) == 32);

/*
 * Geometry limits: user-reachable, so errors, never warnings.  The ring
 * bytes limit bounds what the ring would really hold (pages, descriptors
 * and their arrays), not only buffers * bufsize.
 */
static int masterdev_check(const struct masterdev_iface *iface, u32 buffers,
			   u32 bufsize)
{
	struct mdma_ring_params params = {
		.buffers = buffers, .bufsize = bufsize, .dir = iface->dir,
		.tails = iface->tails, .ops = iface->ops,
	};
	u64 bytes;

	/* the used[] array too must fit one kvmalloc (INT_MAX bytes) */
	if (buffers < 2 || buffers > READ_ONCE(masterdev_max_buffers) ||
	    buffers > INT_MAX / sizeof(*iface->used))
		return -EINVAL;
	if (!bufsize || bufsize > READ_ONCE(masterdev_max_bufsize))
		return -EINVAL;
	if (mdma_ring_footprint(&params, &bytes) ||
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
	mutex_lock(&iface->pair->lock);
	if (iface->open) {	/* its ring may be gone with its device */
		ret = -EBUSY;
	} else if (is_buffers) {
		ret = masterdev_check(iface, value, iface->bufsize);
		if (!ret)
			iface->buffers = value;
	} else {
		ret = masterdev_check(iface, iface->buffers, value);
		if (!ret)
			iface->bufsize = value;
	}
	mutex_unlock(&iface->pair->lock);
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

/* Which device walks the ring: the open ring's, else the next one's. */
static ssize_t dma_device_show(struct device *dev, struct device_attribute *attr,
			       char *buf)
{
	struct masterdev_iface *iface = dev_get_drvdata(dev);
	struct device *dma_dev;
	ssize_t ret;

	mutex_lock(&iface->pair->lock);
	if (iface->dma_dev)
		dma_dev = get_device(iface->dma_dev);
	else	/* open with its device gone: none, until closed */
		dma_dev = iface->open ? NULL : masterdev_dma_device();
	mutex_unlock(&iface->pair->lock);
	ret = sysfs_emit(buf, "%s\n", dma_dev ? dev_name(dma_dev) : "none");
	put_device(dma_dev);
	return ret;
}
static DEVICE_ATTR_RO(dma_device);

/* Bytes a transmitter sent to no receiver, or gave up on when killed. */
static ssize_t dropped_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct masterdev_iface *iface = dev_get_drvdata(dev);
	u64 dropped;

	mutex_lock(&iface->pair->lock);
	dropped = iface->dropped;
	mutex_unlock(&iface->pair->lock);
	return sysfs_emit(buf, "%llu\n", dropped);
}
static DEVICE_ATTR_RO(dropped);

static struct attribute *masterdev_iface_attrs[] = {
	&dev_attr_buffers.attr,
	&dev_attr_bufsize.attr,
	&dev_attr_dma_device.attr,
	&dev_attr_dropped.attr,
	NULL,
};

static const struct attribute_group masterdev_iface_group = {
	.attrs = masterdev_iface_attrs,
};

const struct attribute_group *masterdev_iface_groups[] = {
	&masterdev_iface_group,
	NULL,
};

static struct masterdev_iface *masterdev_peer(struct masterdev_iface *iface)
{
	struct masterdev_pair *pair = iface->pair;

	return iface == pair->tx ? pair->rx : pair->tx;
}

static int masterdev_open(struct inode *inode, struct file *file)
{
	struct masterdev_iface *iface =
		container_of(inode->i_cdev, struct masterdev_iface, cdev);
	struct masterdev_iface *peer = masterdev_peer(iface);
	struct mdma_ring_params params = {
		.dir = iface->dir,
		.tails = iface->tails,
		.ops = iface->ops,
		.name = iface->name,
	};
	struct device *dev;
	struct mdma_ring *ring;
	int ret = 0;

	/*
	 * The device is taken under the pair's lock: a removal of it either
	 * came first (the next device serves) or waits in masterdev_pair_stop()
	 * for this open and then releases its ring.  Its reference goes to the
	 * ring, or back on failure.
	 */
	masterdev_test_lock_order(iface);
	mutex_lock(&iface->pair->lock);
	dev = masterdev_dma_device();
	if (iface->open || peer->checking) {
		ret = -EBUSY;
		goto unlock;
	}
	if (!dev) {
		ret = -ENODEV;
		goto unlock;
	}
	/* the cable carries whole buffers: both ends must agree */
	if (peer->ring && (peer->buffers != iface->buffers ||
			   peer->bufsize != iface->bufsize)) {
		ret = -EINVAL;
		goto unlock;
	}
	/* the limits may have been lowered since the geometry was set */
	ret = masterdev_check(iface, iface->buffers, iface->bufsize);
	if (ret)
		goto unlock;
	params.buffers = iface->buffers;
	params.bufsize = iface->bufsize;
	iface->used = masterdev_test_fail("used") ? NULL :
		      kvcalloc(iface->buffers, sizeof(*iface->used),
			       GFP_KERNEL | __GFP_NOWARN);
	if (!iface->used) {
		ret = -ENOMEM;
		goto unlock;
	}
	ring = mdma_ring_alloc(dev, &params);
	if (IS_ERR(ring)) {
		kvfree(iface->used);
		iface->used = NULL;
		ret = PTR_ERR(ring);
		goto unlock;
	}
	iface->ring = ring;
	iface->dma_dev = dev;
	dev = NULL;
	iface->open = true;
	iface->head = 0;
	iface->dev_buf = 0;
	iface->partial = 0;
	iface->done = 0;
	iface->queued = iface->dir == DMA_FROM_DEVICE ? iface->buffers : 0;
	if (!peer->open)
		iface->pair->error = 0;
	masterdev_loop_start(iface);
	file->private_data = iface;
	stream_open(inode, file);
unlock:
	mutex_unlock(&iface->pair->lock);
	put_device(dev);
	return ret;
}

/**
 * masterdev_pair_stop() - stop a pair whose rings use a departing device
 * @pair: the pair
 * @dev: the device
 *
 * Context: process context; takes the pair's lock.
 * Return: true if a ring of the pair is mapped for @dev: the pair's error
 * is then -ENODEV and every waiter has been woken.
 */
bool masterdev_pair_stop(struct masterdev_pair *pair, struct device *dev)
{
	bool found;

	mutex_lock(&pair->lock);
	found = (pair->tx->ring && pair->tx->dma_dev == dev) ||
		(pair->rx->ring && pair->rx->dma_dev == dev);
	if (found)
		pair->error = -ENODEV;
	mutex_unlock(&pair->lock);
	if (found) {	/* a closing transmitter waits killable: wake all */
		wake_up_all(&pair->tx->wait);
		wake_up_all(&pair->rx->wait);
	}
	return found;
}

/**
 * masterdev_iface_gone() - free an interface's ring if mapped for @dev
 * @iface: the interface, its pair stopped by masterdev_pair_stop()
 * @dev: the departing device
 *
 * Waits for the read, write or ioctl in progress (woken by the pair's
 * error) to end, then unmaps and frees the ring; the file stays open.
 *
 * Context: process context; sleeps.
 */
void masterdev_iface_gone(struct masterdev_iface *iface, struct device *dev)
{
	mutex_lock(&iface->io_lock);
	mutex_lock(&iface->pair->lock);
	if (iface->ring && iface->dma_dev == dev) {
		mdma_ring_free(iface->ring);
		iface->ring = NULL;
		put_device(iface->dma_dev);
		iface->dma_dev = NULL;
	}
	mutex_unlock(&iface->pair->lock);
	mutex_unlock(&iface->io_lock);
}

/* Hand the buffer at head to the device; the caller synced it. */
static void masterdev_queue(struct masterdev_iface *iface)
{
	lockdep_assert_held(&iface->pair->lock);
	iface->head = (iface->head + 1) % iface->buffers;
	iface->partial = 0;
	iface->queued++;
	masterdev_loop_kick(iface->pair);
}

/*
 * Wait, with the pair lock dropped, until the device has finished a buffer
 * (for DQBUF), or until user space owns one or can take one back (for read
 * and write).  Called with the lock held; returns with it held.
 */
static int masterdev_wait(struct masterdev_iface *iface, struct file *file,
			  bool finished)
{
	struct masterdev_pair *pair = iface->pair;
	int ret;

	lockdep_assert_held(&pair->lock);
	while (!iface->done && (finished || !masterdev_user_owned(iface))) {
		if (pair->error)
			return pair->error;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		mutex_unlock(&pair->lock);
		ret = wait_event_interruptible(iface->wait,
					       READ_ONCE(iface->done) ||
					       READ_ONCE(pair->error));
		mutex_lock(&pair->lock);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Make the buffer at head user space's if it is not yet: a writer takes
 * back every buffer the device sent, a reader the oldest one it filled.
 * Waits while there is none; with @ready_only, never waits.
 */
static int masterdev_take(struct masterdev_iface *iface, struct file *file,
			  bool ready_only)
{
	int ret;

	lockdep_assert_held(&iface->pair->lock);
	if (!iface->ring)
		return -ENODEV;
	if (masterdev_user_owned(iface))
		return 0;
	if (ready_only && !iface->done)
		return -EAGAIN;
	ret = masterdev_wait(iface, file, false);
	if (ret)
		return ret;
	/* another reader or DQBUF may have taken it while we slept */
	if (masterdev_user_owned(iface))
		return 0;
	if (iface->dir == DMA_TO_DEVICE)
		iface->done = 0;
	else
		iface->done--;
	return 0;
}

/*
 * One interface's I/O at a time; a non-blocking caller does not wait for
 * another's.  A removal takes it too, so nothing that waits on user space
 * runs under it: user copies run with page faults off (masterdev_copy()).
 */
static int masterdev_io_lock(struct masterdev_iface *iface, struct file *file)
{
	if (file->f_flags & O_NONBLOCK)
		return mutex_trylock(&iface->io_lock) ? 0 : -EAGAIN;
	return mutex_lock_interruptible(&iface->io_lock);
}

/*
 * Copy @n bytes between the ring at @pos and @iter; with @faults false,
 * page faults are off, and a page not present ends the copy short.
 * Return: the bytes copied, or -EFAULT when none were.
 */
static ssize_t masterdev_copy(struct masterdev_iface *iface, loff_t pos,
			      struct iov_iter *iter, size_t n, bool faults)
{
	ssize_t ret;

	if (!faults)
		pagefault_disable();
	if (iface->dir == DMA_FROM_DEVICE)
		ret = mdma_ring_copy_to_iter(iface->ring, pos, iter, n);
	else
		ret = mdma_ring_copy_from_iter(iface->ring, pos, iter, n);
	if (!faults)
		pagefault_enable();
	return ret;
}

/*
 * A copy fell short at a page not present: fault @bytes of @iter in with
 * the io_lock dropped, since the fault may wait on user space (a
 * userfaultfd, a FUSE file) and a removal waits on the lock, then take the
 * lock again.  *@faults tells the next copy to take its faults itself:
 * get_user_pages() refuses some mappings (VM_IO, VM_PFNMAP) that a fault
 * fills.  Return: 0 with the lock held again, or its error without it.
 */
static int masterdev_fault_in(struct masterdev_iface *iface, struct file *file,
			      struct iov_iter *iter, size_t bytes, bool *faults)
{
	size_t left;

	mutex_unlock(&iface->io_lock);
	if (iface->dir == DMA_FROM_DEVICE)
		left = fault_in_iov_iter_writeable(iter, bytes);
	else
		left = fault_in_iov_iter_readable(iter, bytes);
	*faults = left == bytes;
	if (fatal_signal_pending(current))
		return -EINTR;
	return masterdev_io_lock(iface, file);
}

/*
 * Move bytes between user space and the buffers at head.  A writer queues
 * all @count bytes, sleeping while the device owns every buffer; a reader
 * sleeps only until something is ready and returns what is ready, at most
 * @count.  A signal ends either with what was moved so far.  The buffer at
 * head is user space's, so it is copied without the pair's lock.
 */
static ssize_t masterdev_stream(struct masterdev_iface *iface, struct file *file,
				struct iov_iter *iter)
{
	size_t count = iov_iter_count(iter);
	bool reader = iface->dir == DMA_FROM_DEVICE;
	struct masterdev_pair *pair = iface->pair;
	bool faults = false;
	size_t done = 0, want;
	u32 end;
	ssize_t n;
	loff_t pos;
	int ret;

	ret = masterdev_io_lock(iface, file);
	if (ret)
		return ret;
	while (done < count) {
		mutex_lock(&pair->lock);
		ret = masterdev_take(iface, file, reader && done);
		pos = (loff_t)iface->head * iface->bufsize + iface->partial;
		end = reader ? iface->used[iface->head] : iface->bufsize;
		want = min_t(size_t, count - done, end - iface->partial);
		mutex_unlock(&pair->lock);
		if (ret)
			break;
		n = masterdev_copy(iface, pos, iter, want, faults);
		if (n > 0) {
			done += n;
			mutex_lock(&pair->lock);
			iface->partial += n;
			if (iface->partial == end) {
				iface->used[iface->head] = end;
				masterdev_queue(iface);
			}
			mutex_unlock(&pair->lock);
		}
		if (fatal_signal_pending(current))
			break;
		if (n > 0 && n == want) {
			faults = false;
			continue;
		}
		/* short with faults on, or not in user memory: a bad address */
		if (faults || !user_backed_iter(iter)) {
			ret = -EFAULT;
			break;
		}
		ret = masterdev_fault_in(iface, file, iter, want - max(n, 0L),
					 &faults);
		if (ret)
			return done ?: ret;
	}
	mutex_unlock(&iface->io_lock);
	return done ?: ret;
}

/* The bytes of the buffers the device owns, which a killed close drops. */
static u64 masterdev_queued_bytes(const struct masterdev_iface *iface)
{
	u64 bytes = 0;
	u32 i;

	for (i = 1; i <= iface->queued; i++)
		bytes += iface->used[(iface->head + iface->buffers - i) %
				     iface->buffers];
	return bytes;
}

/*
 * Killed: a fatal signal is pending, or the task is exiting because of one
 * (the last close then runs from do_exit(), where no signal can arrive and
 * fatal_signal_pending() is false; a signal's exit code is its number, a
 * normal exit's has zero low bits).
 */
static bool masterdev_killed(void)
{
	return fatal_signal_pending(current) ||
	       ((current->flags & PF_EXITING) && (current->exit_code & 0x7f));
}

/* closing_wait in jiffies; at most a day, so that the product cannot wrap */
static long masterdev_closing_jiffies(void)
{
	return msecs_to_jiffies(min(READ_ONCE(masterdev_closing_wait), 86400U) *
				MSEC_PER_SEC);
}

/*
 * Send what a transmitter holds: its partial buffer, then wait until the
 * engine has moved every queued buffer, to the receiver or, without one,
 * nowhere.  A fatal signal (for fsync(), @interruptible, any signal), or the
 * device going, ends the wait early (-ERESTARTSYS, the engine's error).  A
 * task exiting normally cannot take a signal any more: it waits while the
 * engine makes progress and gives up after closing_wait seconds without any
 * (-ETIMEDOUT), as a tty's close does.  Called and returns with the pair's
 * lock held.
 */
static int masterdev_flush(struct masterdev_iface *tx, bool interruptible)
{
	struct masterdev_pair *pair = tx->pair;
	u32 queued;
	int ret;

	lockdep_assert_held(&pair->lock);
	if (!tx->ring)
		return -ENODEV;
	if (tx->partial && masterdev_user_owned(tx)) {
		tx->used[tx->head] = tx->partial;
		masterdev_queue(tx);
	}
	while ((queued = tx->queued) && !pair->error) {
		if (masterdev_killed() ||
		    (interruptible && signal_pending(current)))
			return -ERESTARTSYS;
		mutex_unlock(&pair->lock);
		if (current->flags & PF_EXITING)
			ret = wait_event_idle_timeout(tx->wait,
						      READ_ONCE(tx->queued) != queued ||
						      READ_ONCE(pair->error),
						      masterdev_closing_jiffies()) ?
			      0 : -ETIMEDOUT;
		else if (interruptible)
			ret = wait_event_interruptible(tx->wait,
						       !READ_ONCE(tx->queued) ||
						       READ_ONCE(pair->error));
		else
			ret = wait_event_killable(tx->wait,
						  !READ_ONCE(tx->queued) ||
						  READ_ONCE(pair->error));
		mutex_lock(&pair->lock);
		if (ret)
			return ret;
	}
	return pair->error;
}

/* A receiver's fsync: what arrived and was not read is discarded. */
static void masterdev_discard(struct masterdev_iface *rx)
{
	lockdep_assert_held(&rx->pair->lock);
	rx->head = rx->dev_buf;
	rx->partial = 0;
	rx->done = 0;
	rx->queued = rx->buffers;
	masterdev_loop_kick(rx->pair);
}

/*
 * The last close of a transmitter sends everything first (see
 * masterdev_flush()); one killed meanwhile, one whose engine stopped, or an
 * exiting task's that saw no progress for closing_wait seconds, drops what
 * is left, counted in "dropped" and said once.
 */
static int masterdev_release(struct inode *inode, struct file *file)
{
	struct masterdev_iface *iface = file->private_data;
	u64 lost;
	int ret;

	mutex_lock(&iface->pair->lock);
	if (iface->dir == DMA_TO_DEVICE && iface->ring) {
		ret = masterdev_flush(iface, false);
		lost = ret ? masterdev_queued_bytes(iface) : 0;
		iface->dropped += lost;
		if (lost)
			dev_info(iface->dev, "closed with %llu bytes not sent (%s)\n",
				 lost, ret == -ERESTARTSYS ? "killed" :
				 ret == -ETIMEDOUT ? "no progress in closing_wait" :
				 "engine stopped");
	}
	mdma_ring_free(iface->ring);
	iface->ring = NULL;
	kvfree(iface->used);
	iface->used = NULL;
	put_device(iface->dma_dev);
	iface->dma_dev = NULL;
	iface->open = false;
	mutex_unlock(&iface->pair->lock);
	/* an engine waiting on this end's buffers goes on, or to nowhere */
	masterdev_loop_kick(iface->pair);
	return 0;
}

static int masterdev_fsync(struct file *file, loff_t start, loff_t end,
			   int datasync)
{
	struct masterdev_iface *iface = file->private_data;
	int ret;

	ret = masterdev_io_lock(iface, file);
	if (ret)
		return ret;
	mutex_lock(&iface->pair->lock);
	if (!iface->ring)
		ret = -ENODEV;
	else if (iface->dir == DMA_TO_DEVICE)
		ret = masterdev_flush(iface, true);
	else
		masterdev_discard(iface);
	mutex_unlock(&iface->pair->lock);
	mutex_unlock(&iface->io_lock);
	/* a handled signal: EINTR, or a restart under SA_RESTART; a stop: a restart */
	return ret;
}

/*
 * read_iter and write_iter, not read and write: a readv() of several
 * iovecs is one call that returns what is ready, where the VFS would call
 * read once per iovec and wait in the second for more.
 */
static ssize_t masterdev_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct masterdev_iface *iface = iocb->ki_filp->private_data;

	if (iface->dir != DMA_TO_DEVICE)
		return -EINVAL;
	return masterdev_stream(iface, iocb->ki_filp, from);
}

static ssize_t masterdev_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct masterdev_iface *iface = iocb->ki_filp->private_data;

	if (iface->dir != DMA_FROM_DEVICE)
		return -EINVAL;
	return masterdev_stream(iface, iocb->ki_filp, to);
}

static __poll_t masterdev_poll(struct file *file, poll_table *wait)
{
	struct masterdev_iface *iface = file->private_data;
	__poll_t ready = iface->dir == DMA_TO_DEVICE ? EPOLLOUT | EPOLLWRNORM :
			 EPOLLIN | EPOLLRDNORM;
	__poll_t mask = 0;

	poll_wait(file, &iface->wait, wait);
	mutex_lock(&iface->pair->lock);
	if (!iface->ring)
		mask |= EPOLLERR | EPOLLHUP;
	else if (masterdev_user_owned(iface) || iface->done)
		mask |= ready;
	if (iface->pair->error)
		mask |= EPOLLERR;
	mutex_unlock(&iface->pair->lock);
	return mask;
}

/*
 * A page of the ring that left the mapping (madvise, a fork's child) comes
 * back while the ring lives; once its device is gone, SIGBUS.  The mapping
 * holds the file, so the ring is the one mmap mapped.
 */
static vm_fault_t masterdev_vm_fault(struct vm_fault *vmf)
{
	struct masterdev_iface *iface = vmf->vma->vm_file->private_data;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	mutex_lock(&iface->pair->lock);
	if (iface->ring)
		ret = mdma_ring_fault(iface->ring, vmf);
	mutex_unlock(&iface->pair->lock);
	return ret;
}

static const struct vm_operations_struct masterdev_vm_ops = {
	.fault = masterdev_vm_fault,
};

static int masterdev_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct masterdev_iface *iface = file->private_data;
	int ret = -ENODEV;

	mutex_lock(&iface->pair->lock);
	if (iface->ring)
		ret = mdma_ring_mmap(iface->ring, vma);
	if (!ret)
		vma->vm_ops = &masterdev_vm_ops;
	mutex_unlock(&iface->pair->lock);
	return ret;
}

static int masterdev_ioctl_summary(struct masterdev_iface *iface,
				   void __user *argp)
{
	struct master_dma_summary summary;
	bool gone;

	mutex_lock(&iface->pair->lock);
	gone = !iface->ring;
	if (!gone)
		mdma_ring_summary(iface->ring, &summary);
	mutex_unlock(&iface->pair->lock);
	if (gone)
		return -ENODEV;
	return copy_to_user(argp, &summary, sizeof(summary)) ? -EFAULT : 0;
}

static int masterdev_ioctl_map_entry(struct masterdev_iface *iface,
				     void __user *argp)
{
	struct master_dma_map_entry entry;
	struct mdma_fragment frag;
	bool admin;
	int ret;

	if (copy_from_user(&entry, argp, sizeof(entry)))
		return -EFAULT;
	if (entry.flags || entry.pad || entry.pad2)
		return -EINVAL;
	mutex_lock(&iface->pair->lock);
	ret = iface->ring ? mdma_ring_fragment(iface->ring, entry.index, &frag) :
			    -ENODEV;
	mutex_unlock(&iface->pair->lock);
	if (ret)
		return ret;
	entry.flags = frag.flags;
	entry.buffer = frag.buffer;
	entry.part = frag.part;
	entry.page = frag.page;
	entry.offset = frag.offset;
	entry.length = frag.length;
	/* without an IOMMU bus addresses are physical: 0 unless admin */
	admin = capable(CAP_SYS_ADMIN);
	entry.dma_addr = admin ? frag.dma_addr : 0;
	entry.desc_dma = admin ? frag.desc_dma : 0;
	entry.next_desc = admin ? frag.next_desc : 0;
	return copy_to_user(argp, &entry, sizeof(entry)) ? -EFAULT : 0;
}

static int masterdev_ioctl_qbuf(struct masterdev_iface *iface,
				struct file *file, void __user *argp)
{
	struct master_dma_buffer b;
	int ret = 0;

	if (copy_from_user(&b, argp, sizeof(b)))
		return -EFAULT;
	if (b.flags || b.pad)
		return -EINVAL;
	ret = masterdev_io_lock(iface, file);
	if (ret)
		return ret;
	mutex_lock(&iface->pair->lock);
	if (!iface->ring)
		ret = -ENODEV;
	else if (b.index != iface->head || !b.bytesused ||
		 b.bytesused > iface->bufsize)
		ret = -EINVAL;
	else if (!masterdev_user_owned(iface))
		ret = -EAGAIN;
	else if (iface->partial)
		ret = -EBUSY;	/* read() or write() is half-way through it */
	if (!ret) {
		if (!masterdev_test_skip_sync())
			mdma_ring_sync_for_device(iface->ring, b.index);
		iface->used[b.index] = b.bytesused;
		masterdev_queue(iface);
	}
	mutex_unlock(&iface->pair->lock);
	mutex_unlock(&iface->io_lock);
	return ret;
}

static int masterdev_ioctl_dqbuf(struct masterdev_iface *iface,
				 struct file *file, void __user *argp)
{
	struct master_dma_buffer b = { };
	bool faults = false;
	int ret;

again:
	ret = masterdev_io_lock(iface, file);
	if (ret)
		return ret;
	mutex_lock(&iface->pair->lock);
	ret = iface->ring ? masterdev_wait(iface, file, true) : -ENODEV;
	if (!ret) {
		b.index = (iface->head + masterdev_user_owned(iface)) %
			  iface->buffers;
		b.bytesused = iface->used[b.index];
		mdma_ring_sync_for_cpu(iface->ring, b.index);
	}
	mutex_unlock(&iface->pair->lock);
	/*
	 * The buffer is the caller's only once the caller knows its index: a
	 * struct it cannot write leaves the buffer with the device side.  The
	 * io_lock keeps every other user-side call (and a removal) out meanwhile,
	 * so the struct's page is faulted in without it, as masterdev_fault_in()
	 * does for read and write.
	 */
	if (!ret && faults && copy_to_user(argp, &b, sizeof(b))) {
		ret = -EFAULT;
	} else if (!ret && !faults &&
		   copy_to_user_nofault(argp, &b, sizeof(b))) {
		mutex_unlock(&iface->io_lock);
		faults = fault_in_safe_writeable(argp, sizeof(b)) != 0;
		if (fatal_signal_pending(current))
			return -EINTR;
		goto again;
	}
	if (!ret) {
		mutex_lock(&iface->pair->lock);
		iface->done--;
		mutex_unlock(&iface->pair->lock);
	}
	mutex_unlock(&iface->io_lock);
	return ret;
}

/*
 * The check plays the device for ~100 ms a transfer: not while the engine
 * may, so the peer stays closed meanwhile; the pair's lock is not held.
 */
static int masterdev_ioctl_edu_check(struct masterdev_iface *iface,
				     struct file *file, void __user *argp)
{
	struct masterdev_pair *pair = iface->pair;
	struct master_dma_edu_check check;
	int ret;

	if (copy_from_user(&check, argp, sizeof(check)))
		return -EFAULT;
	if (check.flags)
		return -EINVAL;
	ret = masterdev_io_lock(iface, file);
	if (ret)
		return ret;
	mutex_lock(&pair->lock);
	if (!iface->ring)
		ret = -ENODEV;
	else if (masterdev_peer(iface)->open)
		ret = -EBUSY;
	else
		iface->checking = true;
	mutex_unlock(&pair->lock);
	if (!ret) {
		ret = masterdev_edu_check(iface, &check);
		mutex_lock(&pair->lock);
		iface->checking = false;
		mutex_unlock(&pair->lock);
	}
	mutex_unlock(&iface->io_lock);
	if (ret)
		return ret;
	return copy_to_user(argp, &check, sizeof(check)) ? -EFAULT : 0;
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
		return masterdev_ioctl_qbuf(iface, file, argp);
	case MASTER_DMA_IOC_DQBUF:
		return masterdev_ioctl_dqbuf(iface, file, argp);
	case MASTER_DMA_IOC_EDU_CHECK:
		return masterdev_ioctl_edu_check(iface, file, argp);
	default:
		return -ENOTTY;
	}
}

const struct file_operations masterdev_fops = {
	.owner = THIS_MODULE,
	.open = masterdev_open,
	.release = masterdev_release,
	.read_iter = masterdev_read_iter,
	.write_iter = masterdev_write_iter,
	.poll = masterdev_poll,
	.fsync = masterdev_fsync,
	.mmap = masterdev_mmap,
	.unlocked_ioctl = masterdev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};
