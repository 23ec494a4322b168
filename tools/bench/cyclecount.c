/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cyclecount.c: the bridge's audio path in one process, to count its
 * instructions with callgrind (scripts/cyclecount runs it).
 *
 * It is the real code on both sides, linked into one program so that
 * valgrind sees both: the server's engine (bridge/engine/engine.c) is the
 * process callback of a JACK client on a real jackd, and a second thread
 * plays the driver's callback thread through the very unix calls the Wine
 * driver makes (winedll/unix/cycle.c), with a host that copies each input
 * buffer to its output buffer.  Only the sockets are missing: the segment
 * is made here as the server would make it.
 *
 *   cyclecount --channels N [--active A] [--connected C] [--cycles K] [--meters]
 *
 * A channels of N are active (the host's createBuffers), the first C
 * (default all) are connected in JACK.
 *
 * Counting starts after WARMUP cycles (CALLGRIND_ZERO_STATS).
 *
 * Functions to read in callgrind's output (inclusive cost / calls):
 *   asiojack_engine_process  one engine cycle (server, JACK thread)
 *   driver_cycle             one driver cycle (the unix side of the Wine
 *                            callback thread, plus the host's copies)
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <jack/jack.h>
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_ZERO_STATS
#endif

#include "client.h"
#include "engine.h"
#include "shm.h"
#include "unix_private.h"

static struct asiojack_engine engine;

/* Cycles run before counting starts. */
#define WARMUP 200

/*
 * One cycle of the driver's callback thread, as winedll/pe/callback.c runs
 * it: the host's bufferSwitch (here: copy every active input to its
 * output), then the unix call that reports it done and waits for the next.
 */
__attribute__((noinline)) static int driver_cycle(struct asiojack_client *c,
                                                  struct asiojack_unix_wait_params *w,
                                                  unsigned active, size_t bytes)
{
    uint32_t seq = w->seq;
    for (unsigned ch = 0; ch < active; ch++)
        memcpy(asiojack_client_out_buffer(c, seq & 1, ch),
               asiojack_client_in_buffer(c, seq & 1, ch), bytes);
    uint64_t client = w->client;
    memset(w, 0, sizeof(*w));
    w->client = client;
    w->timeout_ms = 100;
    w->done_seq = seq;
    asiojack_unix_wait(w);
    return (int)w->ready;
}

int main(int argc, char **argv)
{
    unsigned channels = 16, active = 0, connected = 0, meters = 0;
    long max_cycles = 2000;
    static const struct option opts[] = {
        {"channels", required_argument, 0, 'c'}, {"active", required_argument, 0, 'a'},
        {"cycles", required_argument, 0, 'k'},   {"connected", required_argument, 0, 'n'},
        {"meters", no_argument, 0, 'm'},         {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': channels = (unsigned)atoi(optarg); break;
        case 'a': active = (unsigned)atoi(optarg); break;
        case 'k': max_cycles = atol(optarg); break;
        case 'n': connected = (unsigned)atoi(optarg); break;
        case 'm': meters = 1; break;
        default:
            fprintf(stderr, "usage: cyclecount --channels N [--active A] [--connected C] "
                            "[--cycles K] [--meters]\n");
            return 2;
        }
    }
    if (channels < 1 || channels > ASIOJACK_MAX_CHANNELS)
        return 2;
    if (!active || active > channels)
        active = channels;
    if (!connected || connected > channels)
        connected = channels;

    jack_status_t status;
    jack_client_t *jc = jack_client_open("cyclecount", JackNoStartServer, &status);
    if (!jc) {
        fprintf(stderr, "cyclecount: no JACK server (status 0x%x)\n", status);
        return 1;
    }
    uint32_t frames = jack_get_buffer_size(jc);
    uint64_t size = asiojack_shm_size(channels, channels, ASIOJACK_MAX_FRAMES);
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return 1;
    asiojack_shm_init(base, channels, channels, ASIOJACK_MAX_FRAMES, ASIOJACK_SAMPLE_FLOAT32, 1);
    struct asiojack_shm *s = base;
    s->sample_rate = jack_get_sample_rate(jc);
    s->jack_buffer_frames = s->buffer_frames = frames;
    /* The whole period: valgrind runs the code tens of times slower, and a
     * missed cycle takes the silence path, which is not the one counted. */
    s->deadline_permille = 1000;
    for (unsigned ch = 0; ch < active; ch++)
        s->in_active[ch] = s->out_active[ch] = 1;
    /* As while status is read (the panel open): the engine meters. */
    if (meters)
        asiojack_want_meters(s, UINT64_MAX);

    asiojack_engine_init(&engine, base, (uintptr_t)jc);
    for (unsigned ch = 0; ch < channels; ch++) {
        char name[32];
        snprintf(name, sizeof(name), "in_%u", ch + 1);
        jack_port_t *in = jack_port_register(jc, name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        snprintf(name, sizeof(name), "out_%u", ch + 1);
        jack_port_t *out = jack_port_register(jc, name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        if (!in || !out)
            return 1;
        asiojack_engine_set_port(&engine, 0, ch, (uintptr_t)in);
        asiojack_engine_set_port(&engine, 1, ch, (uintptr_t)out);
    }
    if (asiojack_engine_install(&engine) || jack_activate(jc))
        return 1;
    /* Every port connected, as in a session in use: the physical captures
     * feed the inputs, the outputs feed the physical playbacks. */
    const char **caps = jack_get_ports(jc, NULL, JACK_DEFAULT_AUDIO_TYPE,
                                       JackPortIsPhysical | JackPortIsOutput);
    const char **plays = jack_get_ports(jc, NULL, JACK_DEFAULT_AUDIO_TYPE,
                                        JackPortIsPhysical | JackPortIsInput);
    unsigned n_caps = 0, n_plays = 0;
    while (caps && caps[n_caps])
        n_caps++;
    while (plays && plays[n_plays])
        n_plays++;
    for (unsigned ch = 0; n_caps && n_plays && ch < connected; ch++) {
        char own[64];
        snprintf(own, sizeof(own), "cyclecount:in_%u", ch + 1);
        jack_connect(jc, caps[ch % n_caps], own);
        snprintf(own, sizeof(own), "cyclecount:out_%u", ch + 1);
        jack_connect(jc, own, plays[ch % n_plays]);
    }
    jack_free(caps);
    jack_free(plays);

    struct asiojack_client c;
    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.shm = s;
    c.shm_size = size;
    /* The driver's checked copy of the geometry, as asiojack_client_open
     * makes it: buffer addresses come from there. */
    const char *bad = asiojack_shm_layout(base, size, &c.layout);
    if (bad) {
        fprintf(stderr, "cyclecount: %s\n", bad);
        return 1;
    }
    c.last_seq = asiojack_ready_seq(s);
    asiojack_set_running(s, 1);

    struct asiojack_unix_wait_params w = {.client = (uint64_t)(uintptr_t)&c, .timeout_ms = 100};
    asiojack_unix_wait(&w);
    size_t bytes = (size_t)frames * sizeof(float);
    long handled = 0, timeouts = 0;
    uint64_t misses0 = 0, completed0 = 0;
    while (handled < max_cycles) {
        if (handled == WARMUP) {
            /* Count from here: libjack's and the loader's first-call costs
             * (symbol binding) and the cycles before start are left out. */
            CALLGRIND_ZERO_STATS;
            misses0 = s->misses;
            completed0 = s->completed;
        }
        if (!w.ready) {
            timeouts++;
            w.timeout_ms = 100;
            asiojack_unix_wait(&w);
            if (timeouts > 50)
                break;
            continue;
        }
        driver_cycle(&c, &w, active, bytes);
        handled++;
    }
    asiojack_set_running(s, 0);
    jack_deactivate(jc);
    /* completed and misses: within the counted window only. */
    printf("{\"frames\": %u, \"channels\": %u, \"active\": %u, \"handled\": %ld, "
           "\"cycles\": %llu, \"completed\": %llu, \"misses\": %llu, \"late\": %llu}\n",
           frames, channels, active, handled, (unsigned long long)s->cycles,
           (unsigned long long)(s->completed - completed0),
           (unsigned long long)(s->misses - misses0), (unsigned long long)s->late);
    jack_client_close(jc);
    return handled ? 0 : 1;
}
