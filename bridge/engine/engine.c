/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine.c: the JACK process callback of one session.
 *
 * One cycle, all inside JACK's period:
 *   1. copy the active JACK inputs into half (seq & 1) of the segment;
 *   2. write that half's time info, publish seq and ring the doorbell
 *      (FUTEX_WAKE), so the driver's callback thread runs the host;
 *   3. wait on done_seq until it reads seq, but never past the deadline;
 *   4. copy that half's outputs to JACK, or silence on a miss.
 * The host thus fills the outputs of the very cycle whose inputs it got:
 * no buffer of latency is added.  A completion that comes late is never
 * played: the next cycle waits for its own sequence number only.
 *
 * Real-time rules: no allocation, no locks, no logging; the only system
 * calls are the futex ones (clock_gettime is served by the vDSO).
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "futex.h"
#include "shm.h"

void asiojack_engine_init(struct asiojack_engine *e, void *shm_base,
                          uintptr_t jack_client)
{
    memset(e, 0, sizeof(*e));
    e->shm = shm_base;
    e->base = shm_base;
    e->client = (jack_client_t *)jack_client;
    e->n_inputs = e->shm->n_inputs;
    e->n_outputs = e->shm->n_outputs;
    e->audio_offset = e->shm->audio_offset;
    e->channel_stride = e->shm->channel_stride;
    e->max_frames = e->shm->max_frames;
    e->sample_type = e->shm->sample_type;
    e->seq = asiojack_ready_seq(e->shm);
    /* Off by default: a spin only pays when the peer's thread has a core
     * of its own; on a busy machine it burns what the peer needs. */
    const char *spin = getenv("ASIOJACK_SPIN_US");
    unsigned long spin_us = spin ? strtoul(spin, NULL, 10) : 0;
    e->spin_ns = (spin_us < ASIOJACK_MAX_SPIN_US ? spin_us : ASIOJACK_MAX_SPIN_US) * 1000u;
}

int asiojack_engine_set_port(struct asiojack_engine *e, int is_output,
                             uint32_t channel, uintptr_t jack_port)
{
    if (is_output) {
        if (channel >= e->n_outputs)
            return -1;
        e->out_ports[channel] = (jack_port_t *)jack_port;
    } else {
        if (channel >= e->n_inputs)
            return -1;
        e->in_ports[channel] = (jack_port_t *)jack_port;
    }
    return 0;
}

/* Worst latency behind our inputs (capture) or in front of our outputs
 * (playback), as JACK has just recomputed it. */
static uint32_t worst_latency(jack_port_t *const *ports, uint32_t n,
                              jack_latency_callback_mode_t mode)
{
    uint32_t worst = 0;
    for (uint32_t i = 0; i < n; i++) {
        jack_latency_range_t range = {0, 0};
        if (!ports[i])
            continue;
        jack_port_get_latency_range(ports[i], mode, &range);
        if (range.max > worst)
            worst = range.max;
    }
    return worst;
}

/*
 * JACK's latency callback (notification thread, not the process thread).
 * The graph-order callback comes before JACK has recomputed latencies, so
 * this is the one place where they are known to be current.
 */
static void latency_changed(jack_latency_callback_mode_t mode, void *arg)
{
    struct asiojack_engine *e = arg;
    struct asiojack_shm *s = e->shm;
    uint32_t *field = mode == JackCaptureLatency ? &s->input_latency : &s->output_latency;
    uint32_t value = mode == JackCaptureLatency ?
        worst_latency(e->in_ports, e->n_inputs, mode) :
        worst_latency(e->out_ports, e->n_outputs, mode);
    if (__atomic_exchange_n(field, value, __ATOMIC_ACQ_REL) != value)
        asiojack_shm_raise_event(s, ASIOJACK_EVENT_LATENCY);
}

int asiojack_engine_install(struct asiojack_engine *e)
{
    int r = jack_set_latency_callback(e->client, latency_changed, e);
    return r ? r : jack_set_process_callback(e->client, asiojack_engine_process, e);
}

/* Silence outputs that someone listens to; an unconnected port's buffer is
 * read by nobody, so it costs nothing. */
static void silence_outputs(struct asiojack_engine *e, jack_nframes_t nframes,
                            int only_inactive)
{
    const struct asiojack_shm *s = e->shm;
    for (uint32_t ch = 0; ch < e->n_outputs; ch++) {
        jack_port_t *p = e->out_ports[ch];
        if (!p || (only_inactive && s->out_active[ch]))
            continue;
        if (!jack_port_connected(p))
            continue;
        memset(jack_port_get_buffer(p, nframes), 0, nframes * sizeof(float));
    }
}

static void write_time(struct asiojack_engine *e, uint32_t seq,
                       jack_nframes_t nframes, uint64_t start_ns)
{
    struct asiojack_shm *s = e->shm;
    struct asiojack_time *t = &s->time[seq & 1];
    jack_position_t pos;
    jack_transport_state_t ts = jack_transport_query(e->client, &pos);

    t->sample_position = s->sample_position;
    t->system_time_ns = start_ns;
    t->transport_frame = pos.frame;
    t->frames = nframes;
    t->sample_rate = s->sample_rate;
    t->flags = ASIOJACK_TIME_TRANSPORT_VALID |
               (ts == JackTransportRolling ? ASIOJACK_TIME_TRANSPORT_ROLLING : 0);
}

/*
 * ASIO input monitoring: each monitored JACK input is mixed into its
 * target JACK output after the host's audio (or the silence) is in place,
 * so it costs no latency and works whether the host runs or not.
 */
static void mix_monitors(struct asiojack_engine *e, jack_nframes_t nframes)
{
    const struct asiojack_shm *s = e->shm;
    for (uint32_t ch = 0; ch < e->n_inputs; ch++) {
        float gain;
        int32_t out = asiojack_monitor_route(s, ch, &gain);
        if (out < 0 || (uint32_t)out >= e->n_outputs || !e->in_ports[ch] ||
            !e->out_ports[out])
            continue;
        /* Unconnected outputs were not silenced, and nobody hears them. */
        if (!jack_port_connected(e->out_ports[out]))
            continue;
        const float *in = jack_port_get_buffer(e->in_ports[ch], nframes);
        float *dst = jack_port_get_buffer(e->out_ports[out], nframes);
        for (jack_nframes_t i = 0; i < nframes; i++)
            dst[i] += gain * in[i];
    }
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Wait until the peer reports `seq` done or the deadline passes; poll for
 * up to spin_ns first (clock_gettime is the vDSO: no system call). */
static int wait_done(struct asiojack_shm *s, uint32_t seq, uint64_t deadline_ns,
                     uint64_t spin_ns)
{
    if (spin_ns) {
        uint64_t until = asiojack_now_ns() + spin_ns;
        if (until > deadline_ns)
            until = deadline_ns;
        while (asiojack_done_seq(s) != seq) {
            if (asiojack_now_ns() >= until)
                break;
            cpu_relax();
        }
    }
    struct timespec deadline = asiojack_ns_to_timespec(deadline_ns);
    for (;;) {
        uint32_t done = asiojack_done_seq(s);
        if (done == seq)
            return 1;
        if (asiojack_futex_wait(&s->done_seq, done, &deadline) == ETIMEDOUT)
            return asiojack_done_seq(s) == seq;
    }
}

/* Where a channel's buffer of one half lies: the same arithmetic as
 * asiojack_in_offset/out_offset, on the engine's own copy of the layout. */
static uint8_t *in_buffer(const struct asiojack_engine *e, uint32_t half, uint32_t ch)
{
    return e->base + e->audio_offset +
           ((size_t)half * e->n_inputs + ch) * e->channel_stride;
}

static uint8_t *out_buffer(const struct asiojack_engine *e, uint32_t half, uint32_t ch)
{
    return e->base + e->audio_offset +
           ((size_t)2 * e->n_inputs + (size_t)half * e->n_outputs + ch) * e->channel_stride;
}

/* One cycle with the host: returns once the outputs hold the host's audio
 * or silence. */
static void run_cycle(struct asiojack_engine *e, jack_nframes_t nframes, uint64_t start_ns)
{
    struct asiojack_shm *s = e->shm;
    uint32_t type = e->sample_type;

    uint32_t seq = e->seq + 1;
    if (seq == 0) /* 0 means "none yet"; 2 keeps the halves alternating
                     after 0xffffffff */
        seq = 2;
    uint32_t half = seq & 1;

    for (uint32_t ch = 0; ch < e->n_inputs; ch++) {
        if (!s->in_active[ch] || !e->in_ports[ch])
            continue;
        asiojack_convert_from_float(in_buffer(e, half, ch),
                                    jack_port_get_buffer(e->in_ports[ch], nframes),
                                    nframes, type);
    }
    write_time(e, seq, nframes, start_ns);

    e->seq = seq;
    s->cycles++;
    asiojack_publish_cycle(s, seq);
    asiojack_futex_wake(&s->doorbell);

    /* JACK's own rate, not the segment's copy (the peer can write that):
     * asked again only when the period changes or the server updates its
     * copy, which is then a hint to ask, never the value used.  Saves a
     * libjack call and a 64-bit division per cycle. */
    uint32_t rate_word = asiojack_load_u32(&s->sample_rate);
    if (nframes != e->period_frames || rate_word != e->rate_word) {
        jack_nframes_t rate = jack_get_sample_rate(e->client);
        e->period_frames = nframes;
        e->rate_word = rate_word;
        e->period_ns = rate ? (uint64_t)nframes * 1000000000u / rate : 0;
    }
    uint64_t period_ns = e->period_ns;
    uint32_t permille = s->deadline_permille;
    if (permille > 1000) /* never past the period, whatever the segment says */
        permille = 1000;
    uint64_t deadline_ns = start_ns + period_ns * permille / 1000u;
    int ok = wait_done(s, seq, deadline_ns, e->spin_ns);
    uint64_t waited = asiojack_now_ns() - start_ns;
    if (waited > s->max_wait_ns)
        s->max_wait_ns = waited;
    uint64_t bucket = waited >> ASIOJACK_WAIT_BUCKET_SHIFT;
    s->wait_histogram[bucket < ASIOJACK_WAIT_BUCKETS ? bucket : ASIOJACK_WAIT_BUCKETS - 1]++;

    if (ok) {
        s->completed++;
        for (uint32_t ch = 0; ch < e->n_outputs; ch++) {
            if (!s->out_active[ch] || !e->out_ports[ch])
                continue;
            asiojack_convert_to_float(jack_port_get_buffer(e->out_ports[ch], nframes),
                                      out_buffer(e, half, ch),
                                      nframes, type);
        }
        silence_outputs(e, nframes, 1);
    } else {
        s->misses++;
        silence_outputs(e, nframes, 0);
    }
    s->sample_position += nframes;
}

int asiojack_engine_process(jack_nframes_t nframes, void *arg)
{
    struct asiojack_engine *e = arg;
    struct asiojack_shm *s = e->shm;
    uint64_t start_ns = asiojack_now_ns();

    if (!asiojack_is_running(s)) {
        e->was_running = 0;
        silence_outputs(e, nframes, 0);
    } else if (nframes != s->buffer_frames || nframes > e->max_frames) {
        /* The host's buffers were made for another size: it has been told
         * (buffer-size event) and must re-create them. */
        s->skipped++;
        silence_outputs(e, nframes, 0);
    } else {
        if (!e->was_running) {
            e->was_running = 1;
            s->sample_position = 0;
        }
        run_cycle(e, nframes, start_ns);
    }
    mix_monitors(e, nframes);
    return 0;
}
