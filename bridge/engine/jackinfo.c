/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef _GNU_SOURCE /* the build defines it; pthread_setaffinity_np needs it */
#define _GNU_SOURCE
#endif
#include "jackinfo.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include <jack/jack.h>
#include <jack/thread.h>

uint32_t asiojack_port_latency_max(uintptr_t jack_port, int capture)
{
    jack_latency_range_t range = {0, 0};
    jack_port_get_latency_range((jack_port_t *)jack_port,
                                capture ? JackCaptureLatency : JackPlaybackLatency,
                                &range);
    return range.max;
}

int asiojack_client_rt_priority(uintptr_t jack_client)
{
    jack_client_t *client = (jack_client_t *)jack_client;
    if (!jack_is_realtime(client))
        return -1;
    return jack_client_real_time_priority(client);
}

int asiojack_pin_process_thread(uintptr_t jack_client, int cpu)
{
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return EINVAL;
    /* JACK's process thread of this client: on Linux a pthread_t, which
     * pthread_setaffinity_np takes from any thread, so the JACK thread
     * itself never makes this system call. */
    jack_native_thread_t thread = jack_client_thread_id((jack_client_t *)jack_client);
    if (!thread)
        return ESRCH;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(thread, sizeof(set), &set);
}
