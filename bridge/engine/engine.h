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
/* The spin when $ASIOJACK_SPIN_US is not set and spinning can pay (see
 * spin_cap_us in engine.c): longer than a light host's buffer switch plus
 * its thread's wake-up, far shorter than a period. */
#define ASIOJACK_AUTO_SPIN_US 50
/* The spin's score (wait_done in engine.c). */
#define ASIOJACK_SPIN_SCORE_START 8
#define ASIOJACK_SPIN_SCORE_MAX 16
#define ASIOJACK_SPIN_MISS_COST 2
#define ASIOJACK_SPIN_REST_CYCLES 512

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
    /* How long the engine may poll done_seq before it sleeps on the futex
     * (0 = never), fixed at init, and the score that decides whether it
     * polls this cycle (spin_budget in engine.c). */
    uint64_t spin_cap_ns;
    uint32_t spin_forced;       /* the cap came from $ASIOJACK_SPIN_US */
    uint32_t colocated;         /* the driver's thread shares the JACK
                                   thread's CPU: a poll would only keep it
                                   from running (atomic: set after
                                   activation, asiojack_engine_set_colocated) */
    int32_t spin_score;
    uint32_t spin_rest;         /* cycles left without polling */
    /* This cycle's JACK input buffers (NULL: inactive), asked once and
     * kept for the meters; valid inside the process callback only. */
    const float *in_bufs[ASIOJACK_MAX_CHANNELS];
    uint32_t metered;           /* the last cycle measured the meters */
};

/* Misses in a row after which the engine stops waiting for the peer: a
 * host that hangs must not cost every JACK client most of each period. */
#define ASIOJACK_STALL_MISSES 8

/* Prepare an engine for a mapped segment and an open JACK client.  Reads
 * $ASIOJACK_SPIN_US (0..ASIOJACK_MAX_SPIN_US), the spin before sleeping;
 * unset, the engine spins ASIOJACK_AUTO_SPIN_US where that can pay. */
void asiojack_engine_init(struct asiojack_engine *e, void *shm_base,
                          uintptr_t jack_client);

/* Tell the engine which JACK port backs a channel (before activation). */
int asiojack_engine_set_port(struct asiojack_engine *e, int is_output,
                             uint32_t channel, uintptr_t jack_port);

/* Install asiojack_engine_process as the client's process callback, and a
 * latency callback that keeps the segment's latencies current.  Must be
 * called before jack_activate(); returns JACK's result. */
int asiojack_engine_install(struct asiojack_engine *e);

/* The session's JACK thread and the driver's callback thread were pinned to
 * one CPU (1) or not (0).  There the engine never polls (a poll would hold
 * the CPU the host needs) unless $ASIOJACK_SPIN_US asks for it.  Any
 * thread, any time. */
void asiojack_engine_set_colocated(struct asiojack_engine *e, int colocated);

/* The JACK process callback. */
int asiojack_engine_process(jack_nframes_t nframes, void *arg);

#endif /* ASIOJACK_ENGINE_H */
