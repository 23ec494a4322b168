/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* latency.h: JACK port latency ranges, for ASIO getLatencies (control
 * thread only; JACK-Client does not expose them). */
#ifndef ASIOJACK_LATENCY_H
#define ASIOJACK_LATENCY_H

#include <stdint.h>

/* Largest latency (frames) of a port's capture (1) or playback (0) range. */
uint32_t asiojack_port_latency_max(uintptr_t jack_port, int capture);

#endif /* ASIOJACK_LATENCY_H */
