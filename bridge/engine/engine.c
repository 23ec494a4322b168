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
#include <unistd.h>

#include "convert.h"
#include "futex.h"
#include "jackinfo.h"
#include "latency.h"
#include "peak.h"
#include "shm.h"

/*
 * How long the engine may poll done_seq before it sleeps, in µs.
 * $ASIOJACK_SPIN_US decides when set (0 = never, at most
 * ASIOJACK_MAX_SPIN_US).  Otherwise the engine polls only where that can
 * pay: JACK real-time (so the host's thread, just below JACK, is not
 * starved by the poll) and more than one CPU online (so it has a core to
 * run on meanwhile), and not where the server pinned both threads to one
 * CPU (asiojack_engine_set_colocated): there the poll would hold the very
 * CPU the host's thread waits for.  Asked once, here, never in the cycle.
 */
static unsigned long spin_cap_us(jack_client_t *client, uint32_t *forced)
{
    const char *env = getenv("ASIOJACK_SPIN_US");
    *forced = env && *env;
    if (*forced) {
        unsigned long us = strtoul(env, NULL, 10);
        return us < ASIOJACK_MAX_SPIN_US ? us : ASIOJACK_MAX_SPIN_US;
    }
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || !client ||
        asiojack_client_rt_priority((uintptr_t)client) < 0)
        return 0;
    return ASIOJACK_AUTO_SPIN_US;
}

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
    e->start_generation = asiojack_start_generation(e->shm);
    e->spin_cap_ns = spin_cap_us(e->client, &e->spin_forced) * 1000u;
    e->spin_score = ASIOJACK_SPIN_SCORE_START;
}

void asiojack_engine_set_colocated(struct asiojack_engine *e, int colocated)
{
    __atomic_store_n(&e->colocated, colocated ? 1u : 0u, __ATOMIC_RELAXED);
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

int asiojack_engine_install(struct asiojack_engine *e)
{
    int r = asiojack_latency_install(e);
    return r ? r : jack_set_process_callback(e->client, asiojack_engine_process, e);
}

/* Silence every output.  Always written, connected or not: asking JACK
 * whether a port is connected (jack_port_connected) may take a lock and
 * walk the graph (PipeWire's libjack does), which has no place in this
 * callback; a memset does not. */
static void silence_outputs(struct asiojack_engine *e, jack_nframes_t nframes)
{
    for (uint32_t ch = 0; ch < e->n_outputs; ch++) {
        jack_port_t *p = e->out_ports[ch];
        if (p)
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

/*
 * The spin's budget for this cycle.  A poll that ends with the peer done
 * saves the engine a sleep and a wake-up and the peer its FUTEX_WAKE; one
 * that ends without it was paid for nothing.  So the engine keeps a score:
 * +1 for a catch, -ASIOJACK_SPIN_MISS_COST for a miss; at 0 it stops
 * polling for ASIOJACK_SPIN_REST_CYCLES cycles, then tries again.  Polling
 * thus goes on while at least two polls in three catch the host (a catch
 * saves about what a fruitless poll costs), a host whose buffer switch
 * takes longer than the cap costs four fruitless polls per rest (under 1 %
 * of its cycles), and a fast host is polled for every cycle.
 */
static uint64_t spin_budget(struct asiojack_engine *e)
{
    if (!e->spin_cap_ns ||
        (!e->spin_forced && __atomic_load_n(&e->colocated, __ATOMIC_RELAXED)))
        return 0;
    if (e->spin_rest) {
        e->spin_rest--;
        return 0;
    }
    return e->spin_cap_ns;
}

static void spin_outcome(struct asiojack_engine *e, int caught)
{
    if (caught) {
        if (e->spin_score < ASIOJACK_SPIN_SCORE_MAX)
            e->spin_score++;
        return;
    }
    e->spin_score -= ASIOJACK_SPIN_MISS_COST;
    if (e->spin_score <= 0) {
        e->spin_rest = ASIOJACK_SPIN_REST_CYCLES;
        e->spin_score = ASIOJACK_SPIN_SCORE_START;
    }
}

/* Wait until the peer reports `seq` done or the deadline passes: poll
 * first if the budget allows (clock_gettime is the vDSO: no system call),
 * then sleep on the futex with engine_sleeping raised, so the peer knows
 * to wake it.  The clock is read on every pass, whatever the futex said: a
 * peer that keeps writing other values to done_seq (and waking us), a
 * signal or an error must never keep the process callback past its
 * deadline. */
static int wait_done(struct asiojack_engine *e, uint32_t seq, uint64_t deadline_ns)
{
    struct asiojack_shm *s = e->shm;
    uint64_t spin_ns = spin_budget(e);
    if (spin_ns) {
        uint64_t until = asiojack_now_ns() + spin_ns;
        if (until > deadline_ns)
            until = deadline_ns;
        for (;;) {
            if (asiojack_done_seq(s) == seq) {
                s->spin_caught++;
                spin_outcome(e, 1);
                return 1;
            }
            if (asiojack_now_ns() >= until)
                break;
            cpu_relax();
        }
        s->spin_missed++;
        spin_outcome(e, 0);
    }
    struct timespec deadline = asiojack_ns_to_timespec(deadline_ns);
    int ok, slept = 0;
    for (;;) {
        uint32_t done = asiojack_engine_will_sleep(s);
        if (done == seq) {
            ok = 1;
            break;
        }
        if (asiojack_now_ns() >= deadline_ns) {
            ok = 0;
            break;
        }
        slept = 1;
        asiojack_futex_wait(&s->done_seq, done, &deadline);
    }
    asiojack_engine_awake(s);
    if (slept)
        s->engine_sleeps++;
    return ok;
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

/*
 * Whether to wait for the peer this cycle.  A stalled peer is probed every
 * cycle at no cost: once it has finished the cycle before this one it has
 * caught up, and it gets one real wait; a miss then stalls it again at
 * once, so a peer that is not back costs one deadline per probe, not one
 * per cycle.
 */
static int worth_waiting(struct asiojack_engine *e, uint32_t previous)
{
    if (!e->stalled)
        return 1;
    if (asiojack_done_seq(e->shm) != previous)
        return 0;
    e->stalled = 0;
    e->miss_run = ASIOJACK_STALL_MISSES - 1;
    return 1;
}

/*
 * Count one cycle's outcome and say what the host is told.  A miss the
 * engine waited for raises OVERLOAD (the host hears kAsioOverload); after a
 * run of them the peer is declared stalled: STALLED is raised beside it,
 * counted, and the engine stops waiting.  The cycles then played without
 * waiting raise nothing new: the peer has been told, and a host coming back
 * from its stall must hear of it once, not once for every cycle it slept
 * through.  No wake: the next cycle's doorbell carries the bits, and this
 * callback makes no more system calls than it must.
 */
static void count_outcome(struct asiojack_engine *e, int ok, int waited_for)
{
    struct asiojack_shm *s = e->shm;
    if (ok) {
        e->miss_run = 0;
        return;
    }
    if (!waited_for) {
        s->unwaited++;
        return;
    }
    uint32_t events = ASIOJACK_EVENT_OVERLOAD;
    if (++e->miss_run >= ASIOJACK_STALL_MISSES && !e->stalled) {
        e->stalled = 1;
        s->stalls++;
        events |= ASIOJACK_EVENT_STALLED;
    }
    asiojack_raise_events(s, events);
}

static void store_peak(float *peak, uint32_t *clips, float value)
{
    __atomic_store(peak, &value, __ATOMIC_RELAXED);
    if (value >= 1.0f)
        __atomic_store_n(clips, *clips + 1, __ATOMIC_RELAXED);
}

/*
 * Meters: each channel's peak in this cycle, for status and the control
 * panel, 0 for inactive channels; measured only while someone looks
 * (asiojack_metering), so a session nobody watches pays nothing for them.
 * No allocation, no lock: readers take the words as they are (relaxed), a
 * meter one cycle old is as good as a current one.  Inputs are measured
 * while the host runs (the engine would only wait otherwise), outputs as
 * JACK will play them, so a missed cycle reads 0.
 */
static void meter_inputs(struct asiojack_engine *e, jack_nframes_t nframes)
{
    struct asiojack_shm *s = e->shm;
    for (uint32_t ch = 0; ch < e->n_inputs; ch++) {
        const float *buf = e->in_bufs[ch];
        store_peak(&s->in_peak[ch], &s->in_clips[ch], buf ? asiojack_peak(buf, nframes) : 0.0f);
    }
}

/* When the last reader goes: no peak stays up to be read as current later. */
static void clear_meters(struct asiojack_engine *e)
{
    struct asiojack_shm *s = e->shm;
    for (uint32_t ch = 0; ch < e->n_inputs; ch++)
        store_peak(&s->in_peak[ch], &s->in_clips[ch], 0.0f);
    for (uint32_t ch = 0; ch < e->n_outputs; ch++)
        store_peak(&s->out_peak[ch], &s->out_clips[ch], 0.0f);
}

/* One cycle with the host: returns once the outputs hold the host's audio
 * or silence. */
static void run_cycle(struct asiojack_engine *e, jack_nframes_t nframes, uint64_t start_ns)
{
    struct asiojack_shm *s = e->shm;
    uint32_t type = e->sample_type;

    uint32_t previous = e->seq;
    uint32_t seq = e->seq + 1;
    if (seq == 0) /* 0 means "none yet"; 2 keeps the halves alternating
                     after 0xffffffff */
        seq = 2;
    uint32_t half = seq & 1;
    int metering = asiojack_metering(s, start_ns);

    /* Each port's buffer is asked of JACK once per cycle (about 100
     * instructions a call) and kept for the meters. */
    for (uint32_t ch = 0; ch < e->n_inputs; ch++) {
        const float *buf = NULL;
        if (s->in_active[ch] && e->in_ports[ch]) {
            buf = jack_port_get_buffer(e->in_ports[ch], nframes);
            asiojack_convert_from_float(in_buffer(e, half, ch), buf, nframes, type);
        }
        e->in_bufs[ch] = buf;
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
    if (metering)
        meter_inputs(e, nframes);
    int waited_for = worth_waiting(e, previous);
    int ok = waited_for ? wait_done(e, seq, deadline_ns) : asiojack_done_seq(s) == seq;
    count_outcome(e, ok, waited_for);
    uint64_t waited = asiojack_now_ns() - start_ns;
    if (waited > s->max_wait_ns)
        s->max_wait_ns = waited;
    uint64_t bucket = waited >> ASIOJACK_WAIT_BUCKET_SHIFT;
    s->wait_histogram[bucket < ASIOJACK_WAIT_BUCKETS ? bucket : ASIOJACK_WAIT_BUCKETS - 1]++;

    if (ok)
        s->completed++;
    else
        s->misses++; /* the host was told in count_outcome */
    /* Every output written, connected or not (silence_outputs says why),
     * with one JACK call each: the host's audio or silence, then its peak. */
    for (uint32_t ch = 0; ch < e->n_outputs; ch++) {
        float peak = 0.0f;
        if (e->out_ports[ch]) {
            float *buf = jack_port_get_buffer(e->out_ports[ch], nframes);
            if (ok && s->out_active[ch]) {
                asiojack_convert_to_float(buf, out_buffer(e, half, ch), nframes, type);
                if (metering)
                    peak = asiojack_peak(buf, nframes);
            } else {
                memset(buf, 0, nframes * sizeof(float));
            }
        }
        if (metering)
            store_peak(&s->out_peak[ch], &s->out_clips[ch], peak);
    }
    if (e->metered && !metering)
        clear_meters(e);
    e->metered = metering;
    s->sample_position += nframes;
}

int asiojack_engine_process(jack_nframes_t nframes, void *arg)
{
    struct asiojack_engine *e = arg;
    struct asiojack_shm *s = e->shm;
    uint64_t start_ns = asiojack_now_ns();

    if (!asiojack_is_running(s)) {
        silence_outputs(e, nframes);
    } else if (nframes != s->buffer_frames || nframes > e->max_frames) {
        /* The host's buffers were made for another size: it has been told
         * (buffer-size event) and must re-create them. */
        s->skipped++;
        silence_outputs(e, nframes);
    } else {
        uint32_t generation = asiojack_start_generation(s);
        if (generation != e->start_generation) {
            /* A new start(), even one that followed its stop() within
             * this period: time starts at 0 and the first cycle goes to
             * buffer half 0, as ASIO hosts expect; the host's new callback
             * thread is waited for again, whatever its last one did. */
            e->start_generation = generation;
            e->miss_run = 0;
            e->stalled = 0;
            s->sample_position = 0;
            uint32_t next = (e->seq + 2) & ~1u;
            if (next == 0)
                next = 2;
            e->seq = next - 1;
        }
        run_cycle(e, nframes, start_ns);
    }
    mix_monitors(e, nframes);
    return 0;
}
