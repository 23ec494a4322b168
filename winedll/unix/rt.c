/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rt.c: real-time scheduling for the driver's callback thread.
 *
 * Wine's SetThreadPriority only changes the nice value (if anything), but
 * the host's bufferSwitch runs inside JACK's cycle deadline, so the thread
 * asks the kernel for SCHED_FIFO itself, below JACK's own threads.  When
 * that is refused the reason goes back to the PE side (which keeps it) and
 * to stderr once: a later `asiojack doctor` wants to tell the user why
 * audio drops out.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unix_private.h"

#define DEFAULT_PRIORITY 70

/* The refusal is printed once per process, not once per start(). */
static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static int rt_warned;

static int wanted_priority(int32_t asked, int *disabled)
{
    const char *env = getenv("ASIOJACK_RT_PRIORITY");
    int prio = asked;
    *disabled = 0;
    if (prio <= 0 && env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == 0 && v <= 0) {
            *disabled = 1;
            return 0;
        }
        if (*end == 0)
            prio = v > 99 ? 99 : (int)v;
    }
    if (prio <= 0)
        prio = DEFAULT_PRIORITY;
    int lo = sched_get_priority_min(SCHED_FIFO), hi = sched_get_priority_max(SCHED_FIFO);
    if (lo >= 0 && prio < lo)
        prio = lo;
    if (hi >= 0 && prio > hi)
        prio = hi;
    return prio;
}

/*
 * Run on the CPU the server pinned the session's JACK thread to: the
 * engine wakes this thread and sleeps until it is done, so on one CPU the
 * hand-off is two local context switches, with no inter-processor wake-up
 * and the cycle's audio still in that CPU's cache.  The CPU comes from the
 * segment: checked for range here, and a CPU this process may not use
 * (a container's cpuset) is refused by the kernel, which is then said.
 */
static void pin_to_cpu(struct asiojack_unix_rt_params *p)
{
    p->cpu_status = 0;
    if (p->cpu < 0)
        return;
    if (p->cpu >= CPU_SETSIZE) {
        p->cpu_status = EINVAL;
    } else {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(p->cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0)
            p->cpu_status = errno;
    }
    if (p->cpu_status)
        p->cpu = -1;
}

asiojack_ntstatus asiojack_unix_set_rt(void *args)
{
    struct asiojack_unix_rt_params *p = args;
    int disabled;
    pin_to_cpu(p);
    int prio = wanted_priority(p->priority, &disabled);

    int32_t asked = p->priority;
    p->priority = 0;
    p->status = 0;
    p->error[0] = 0;
    if (asked < 0 && !getenv("ASIOJACK_RT_PRIORITY")) {
        /* Above a JACK that is not real-time would only starve others. */
        snprintf(p->error, sizeof(p->error),
                 "JACK runs without real-time scheduling, so the driver does too");
        return ASIOJACK_STATUS_SUCCESS;
    }
    if (disabled) {
        snprintf(p->error, sizeof(p->error),
                 "real-time scheduling disabled by ASIOJACK_RT_PRIORITY");
        return ASIOJACK_STATUS_SUCCESS;
    }

    /* pid 0 is the calling thread; RESET_ON_FORK keeps whatever the host
     * spawns from this thread out of the real-time class. */
    struct sched_param sp = {.sched_priority = prio};
    if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) == 0) {
        p->priority = prio;
        return ASIOJACK_STATUS_SUCCESS;
    }

    int err = errno;
    p->status = err;
    snprintf(p->error, sizeof(p->error),
             "SCHED_FIFO priority %d refused: %s%s", prio, strerror(err),
             err == EPERM ? " (no rtprio limit for this user: audio group,"
                            " /etc/security/limits.d?)" : "");
    pthread_mutex_lock(&rt_lock);
    int first = !rt_warned;
    rt_warned = 1;
    pthread_mutex_unlock(&rt_lock);
    if (first)
        fprintf(stderr, "asiojack: %s; audio runs without real-time priority\n",
                p->error);
    return ASIOJACK_STATUS_SUCCESS;
}
