/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * peer.c: a Linux stand-in for the ASIO driver, for tests of the Linux
 * half.  It speaks the contract through bridge/client/client.c, exactly as the
 * Wine unix library does, and plays a host that copies each input channel
 * to the output channel of the same number.
 *
 * Prints "READY <client name> <segment fd>" once streaming (tests map the
 * segment through /proc/<pid>/fd/<fd>), and a JSON line
 * with its counts when it ends.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "futex.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: peer [--exe NAME] [--name CLIENT] [--inputs N] [--outputs N]\n"
            "            [--frames N] [--seconds S] [--stall-at CYCLE --stall-ms MS]\n"
            "            [--channels N] [--autostart] [--spin-done-ms MS]\n"
            "            [--post-work-us US [--early-done]] [--restarts N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *exe = "peer.exe", *name = "";
    unsigned n_in = 0, n_out = 0, frames = 0, channels = 0, stall_ms = 0;
    unsigned long stall_at = 0;
    int autostart = 0, early_done = 0;
    unsigned spin_done_ms = 0, post_work_us = 0, restarts = 0;
    double seconds = 1.0;
    static const struct option opts[] = {
        {"exe", required_argument, 0, 'e'},      {"name", required_argument, 0, 'n'},
        {"inputs", required_argument, 0, 'i'},   {"outputs", required_argument, 0, 'o'},
        {"frames", required_argument, 0, 'f'},   {"seconds", required_argument, 0, 's'},
        {"stall-at", required_argument, 0, 'a'}, {"stall-ms", required_argument, 0, 'm'},
        {"channels", required_argument, 0, 'c'}, {"autostart", no_argument, 0, 'A'},
        {"spin-done-ms", required_argument, 0, 'D'},
        {"post-work-us", required_argument, 0, 'w'}, {"early-done", no_argument, 0, 'E'},
        {"restarts", required_argument, 0, 'R'},
        {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'e': exe = optarg; break;
        case 'n': name = optarg; break;
        case 'i': n_in = (unsigned)atoi(optarg); break;
        case 'o': n_out = (unsigned)atoi(optarg); break;
        case 'f': frames = (unsigned)atoi(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'a': stall_at = strtoul(optarg, NULL, 10); break;
        case 'm': stall_ms = (unsigned)atoi(optarg); break;
        case 'c': channels = (unsigned)atoi(optarg); break;
        case 'A': autostart = 1; break;
        case 'D': spin_done_ms = (unsigned)atoi(optarg); break;
        case 'w': post_work_us = (unsigned)atoi(optarg); break;
        case 'E': early_done = 1; break;
        case 'R': restarts = (unsigned)atoi(optarg); break;
        default: usage();
        }
    }

    struct asiojack_client c;
    int r = asiojack_client_connect(&c, exe, 64, autostart);
    if (!r)
        r = asiojack_client_open(&c, name, n_in, n_out);
    if (r) {
        printf("{\"error\": %d, \"message\": \"%s\"}\n", r, c.error);
        return 1;
    }
    struct asiojack_shm *s = c.shm;
    if (!frames)
        frames = s->jack_buffer_frames;
    unsigned pairs = c.layout.n_inputs < c.layout.n_outputs ? c.layout.n_inputs
                                                            : c.layout.n_outputs;
    if (channels && channels < pairs)
        pairs = channels;

    uint8_t in_active[ASIOJACK_MAX_CHANNELS] = {0}, out_active[ASIOJACK_MAX_CHANNELS] = {0};
    for (unsigned ch = 0; ch < pairs; ch++)
        in_active[ch] = out_active[ch] = 1;
    r = asiojack_client_create_buffers(&c, frames, in_active, out_active);
    if (!r)
        r = asiojack_client_start(&c);
    if (r) {
        printf("{\"error\": %d, \"message\": \"%s\"}\n", r, c.error);
        asiojack_client_close(&c);
        return 1;
    }
    printf("READY %s %d\n", c.client_name, c.shm_fd);
    fflush(stdout);

    if (spin_done_ms) {
        /* A hostile peer: it answers no cycle, but keeps changing done_seq
         * (to values the engine never waits for) far faster than a futex
         * call takes, so a wait there never sleeps: it comes back at once,
         * "the value changed".  It also wakes the word now and then.  The
         * engine must still give up at its deadline every cycle. */
        uint64_t stop_at = asiojack_now_ns() + (uint64_t)spin_done_ms * 1000000u;
        unsigned long spins = 0;
        while (asiojack_now_ns() < stop_at) {
            uint32_t never = asiojack_ready_seq(s) ^ 0x80000000u;
            for (uint32_t i = 0; i < (1u << 24); i++)
                asiojack_mark_done(s, never + i);
            asiojack_futex_wake(&s->done_seq);
            spins++;
        }
        r = asiojack_client_stop(&c);
        printf("{\"spins\": %lu, \"stop\": %d, \"client\": \"%s\"}\n", spins, r,
               c.client_name);
        asiojack_client_close(&c);
        return r ? 1 : 0;
    }

    size_t bytes = (size_t)frames * c.layout.bytes_per_sample;
    unsigned long handled = 0, timeouts = 0, jumps = 0;
    /* --restarts: stop() and start() back to back every 5 cycles; the
     * first cycle after each must be at position 0 in buffer half 0. */
    unsigned restarted = 0, bad_pos = 0, bad_half = 0, check_restart = 0;
    unsigned long since_restart = 0;
    uint32_t all_events = 0, last = 0;
    uint64_t end = asiojack_now_ns() + (uint64_t)(seconds * 1e9);
    while (asiojack_now_ns() < end) {
        uint32_t seq, events;
        int got = asiojack_client_wait(&c, &seq, &events, 100);
        all_events |= events;
        if (!got) {
            timeouts++;
            continue;
        }
        if (check_restart) {
            check_restart = 0;
            bad_pos += s->time[seq & 1].sample_position != 0;
            bad_half += (seq & 1) != 0;
        } else if (last && seq != last + 1) {
            jumps++;
        }
        last = seq;
        for (unsigned ch = 0; ch < pairs; ch++)
            memcpy(asiojack_client_out_buffer(&c, seq & 1, ch),
                   asiojack_client_in_buffer(&c, seq & 1, ch), bytes);
        handled++;
        if (stall_at && handled == stall_at) {
            struct timespec ts = {stall_ms / 1000, (long)(stall_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        /* A host's work after its outputs are ready (meters, recording to
         * disk): with --early-done it reports the cycle done first, as a
         * host calling ASIO's outputReady() lets the driver do. */
        if (early_done)
            asiojack_client_done(&c, seq);
        if (post_work_us) {
            uint64_t until = asiojack_now_ns() + (uint64_t)post_work_us * 1000u;
            while (asiojack_now_ns() < until)
                ;
        }
        if (!early_done)
            asiojack_client_done(&c, seq);
        if (restarted < restarts && ++since_restart == 5) {
            since_restart = 0;
            if (asiojack_client_stop(&c) || asiojack_client_start(&c))
                break;
            restarted++;
            check_restart = 1;
        }
    }
    r = asiojack_client_stop(&c);
    printf("{\"handled\": %lu, \"timeouts\": %lu, \"jumps\": %lu, \"events\": %u, "
           "\"stop\": %d, \"client\": \"%s\", \"restarts\": %u, "
           "\"restart_bad_pos\": %u, \"restart_bad_half\": %u, \"done_wakes\": %llu}\n",
           handled, timeouts, jumps, all_events, r, c.client_name, restarted, bad_pos,
           bad_half, (unsigned long long)c.done_wakes);
    asiojack_client_close(&c);
    return r ? 1 : 0;
}
