/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * futex.h: the only system calls the audio path makes.
 *
 * The words live in a MAP_SHARED segment used by two processes, so these
 * are the shared (non-private) futex operations.  Timeouts are absolute
 * CLOCK_MONOTONIC times (FUTEX_WAIT_BITSET), so a wait interrupted by a
 * signal or a spurious wake can be repeated without recomputing anything.
 */
#ifndef ASIOJACK_FUTEX_H
#define ASIOJACK_FUTEX_H

#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Wake every waiter on *word. */
static inline void asiojack_futex_wake(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/*
 * Sleep while *word == expected, until `deadline` (CLOCK_MONOTONIC, may be
 * NULL for no limit).  Returns 0 when woken or when the value already
 * differs, ETIMEDOUT when the deadline passed, EINTR on a signal.
 */
static inline int asiojack_futex_wait(uint32_t *word, uint32_t expected,
                                      const struct timespec *deadline)
{
    long r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, deadline,
                     NULL, FUTEX_BITSET_MATCH_ANY);
    if (r == 0)
        return 0;
    if (errno == EAGAIN)
        return 0;
    return errno;
}

static inline uint64_t asiojack_now_ns(void)
{
    struct timespec ts;
    /* vDSO on Linux: no system call. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct timespec asiojack_ns_to_timespec(uint64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    return ts;
}

#endif /* ASIOJACK_FUTEX_H */
