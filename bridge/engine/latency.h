/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * latency.h: what the session tells JACK and the host about latency.
 * Control and notification threads only, never the process thread.
 */
#ifndef ASIOJACK_LATENCY_H
#define ASIOJACK_LATENCY_H

#include "engine.h"

/* Install the client's latency callback (before jack_activate). */
int asiojack_latency_install(struct asiojack_engine *e);

/*
 * Work out the latencies the host is told (getLatencies) from JACK's
 * graph as it is now and store them in the segment; raise
 * ASIOJACK_EVENT_LATENCY when they changed.  Returns 1 when they changed.
 * Called by the latency callback and by the server after it connected
 * ports or the host chose its channels.
 */
int asiojack_engine_update_latencies(struct asiojack_engine *e);

#endif /* ASIOJACK_LATENCY_H */
