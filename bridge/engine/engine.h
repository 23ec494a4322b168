/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine.h: the real-time half of a session.  It runs as the JACK process
 * callback of the session's client and moves audio between JACK's port
 * buffers and the shared segment, handing each cycle to the driver in the
 * Wine process and waiting for it with a deadline.
 *
 * Everything here but asiojack_engine_process() is called from the server's
 * control thread, never while the callback may run on the same data, except
 * where noted.
 */
#ifndef ASIOJACK_ENGINE_H
#define ASIOJACK_ENGINE_H

#include <stdint.h>

#include <jack/jack.h>

#include "asiojack_abi.h"

/* Longest spin the environment may ask for: anything longer only burns a
 * core, so this caps a typo. */
#define ASIOJACK_MAX_SPIN_US 200

struct asiojack_engine {
    struct asiojack_shm *shm;
    uint8_t *base;              /* == (uint8_t *)shm */
    jack_client_t *client;
    jack_port_t *in_ports[ASIOJACK_MAX_CHANNELS];
    jack_port_t *out_ports[ASIOJACK_MAX_CHANNELS];
    /* The layout, copied from the segment when the server made it: the
     * peer can write the segment, so the engine never takes where to write
     * from it again. */
    uint32_t n_inputs;
    uint32_t n_outputs;
    uint32_t audio_offset;
    uint32_t channel_stride;
    uint32_t max_frames;
    uint32_t sample_type;
    uint32_t seq;               /* last cycle published */
    uint32_t start_generation;  /* of the start() the engine runs under */
    uint32_t miss_run;          /* misses in a row */
    uint32_t stalled;           /* 1: the peer is not waited for */
    /* The period in ns, worked out when the period or the server's copy of
     * the rate changes rather than every cycle (asiojack_engine_process). */
    uint32_t period_frames;
    uint32_t rate_word;
    uint64_t period_ns;
    /* How long the engine polls done_seq before it sleeps on the futex:
     * $ASIOJACK_SPIN_US at init, 0 (no spin) by default. */
    uint64_t spin_ns;
};

/* Misses in a row after which the engine stops waiting for the peer: a
 * host that hangs must not cost every JACK client most of each period. */
#define ASIOJACK_STALL_MISSES 8

/* Prepare an engine for a mapped segment and an open JACK client.  Reads
 * $ASIOJACK_SPIN_US (0..ASIOJACK_MAX_SPIN_US), the spin before sleeping. */
void asiojack_engine_init(struct asiojack_engine *e, void *shm_base,
                          uintptr_t jack_client);

/* Tell the engine which JACK port backs a channel (before activation). */
int asiojack_engine_set_port(struct asiojack_engine *e, int is_output,
                             uint32_t channel, uintptr_t jack_port);

/* Install asiojack_engine_process as the client's process callback, and a
 * latency callback that keeps the segment's latencies current.  Must be
 * called before jack_activate(); returns JACK's result. */
int asiojack_engine_install(struct asiojack_engine *e);

/* The JACK process callback. */
int asiojack_engine_process(jack_nframes_t nframes, void *arg);

#endif /* ASIOJACK_ENGINE_H */
