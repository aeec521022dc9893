/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels masterdma supports (6.1 and 6.12 LTS)
 * lives here, so that the rest of the code is written against one API.
 * Add a shim only after checking the interface in both trees.
 */
#ifndef MASTERDMA_COMPAT_H
#define MASTERDMA_COMPAT_H

#include <linux/version.h>

#endif /* MASTERDMA_COMPAT_H */
