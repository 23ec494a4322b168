/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memlock.h: keep a session segment in RAM, so that the process callback
 * never takes a page fault on it (a fault there is a syscall in disguise,
 * and a page read back from swap is an xrun).
 */
#ifndef ASIOJACK_MEMLOCK_H
#define ASIOJACK_MEMLOCK_H

#include <stdint.h>

/*
 * Fault in every page of [base, base + size) and lock them (mlock).
 * Returns 0 when locked, else the errno of mlock (ENOMEM / EPERM: the
 * RLIMIT_MEMLOCK is too small); the pages are then at least present.
 * Control thread only; safe while the peer uses the segment.  munmap
 * unlocks, so there is nothing to undo.
 */
int asiojack_lock_segment(void *base, uint64_t size);

#endif /* ASIOJACK_MEMLOCK_H */
