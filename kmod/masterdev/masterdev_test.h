/* SPDX-License-Identifier: GPL-2.0 */
/*
 * masterdev_test.h - masterdev's test-only hooks, in one place.
 *
 * Compiled in only by a test build (make MASTERDMA_TEST=1); a production
 * build gets the stubs below and contains none of them.
 */
#ifndef MASTERDEV_TEST_H
#define MASTERDEV_TEST_H

#ifdef MASTERDMA_TEST
void masterdev_test_load(void);
#else
static inline void masterdev_test_load(void)
{
}
#endif

#endif /* MASTERDEV_TEST_H */
