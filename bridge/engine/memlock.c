/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "memlock.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

int asiojack_lock_segment(void *base, uint64_t size)
{
    /* mlock faults every page in itself. */
    if (mlock(base, (size_t)size) == 0)
        return 0;
    int err = errno;
    /* Not allowed to lock: at least fault every page in now rather than
     * in the process callback.  A write fault (an atomic add of 0 keeps
     * whatever the peer may be writing) allocates the shared page, where a
     * read fault could map it read-only first. */
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    for (uint64_t off = 0; off < size; off += (uint64_t)page)
        __atomic_fetch_add((uint8_t *)base + off, 0, __ATOMIC_RELAXED);
    return err;
}
