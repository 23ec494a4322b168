/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* jackinfo.h: what the server needs from libjack that JACK-Client does not
 * expose (control thread only). */
#ifndef ASIOJACK_JACKINFO_H
#define ASIOJACK_JACKINFO_H

#include <stdint.h>

/* Largest latency (frames) of a port's capture (1) or playback (0) range. */
uint32_t asiojack_port_latency_max(uintptr_t jack_port, int capture);

/* SCHED_FIFO priority of the client's process thread, -1 if not real-time. */
int asiojack_client_rt_priority(uintptr_t jack_client);

/* Pin the client's JACK process thread (the one running the engine) to
 * `cpu`, from the control thread, after jack_activate().  0 or an errno. */
int asiojack_pin_process_thread(uintptr_t jack_client, int cpu);

#endif /* ASIOJACK_JACKINFO_H */
