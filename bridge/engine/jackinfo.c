/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "jackinfo.h"

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
