/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * baseline.c: the floor an in-process ASIO driver pays, for scripts/bench.
 *
 * A minimal JACK client whose process callback does the copies a driver
 * and its host do inside one process: each JACK input into a host input
 * buffer, the host's copy of that buffer to its output buffer, and the
 * output buffer back into the JACK output port.  asiojack does the same
 * three copies per channel, but split over two processes and handed off
 * twice per cycle; the difference between the two is the bridge's cost.
 *
 *   baseline --channels N [--name NAME] [--seconds S]
 *
 * Prints "READY <client name> <tid of JACK's process thread>" once the
 * first cycle ran, then runs until SIGTERM/SIGINT or S seconds.  With
 * ASIOJACK_BENCH_CYCLES=K it stops after K cycles instead (for callgrind).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jack/jack.h>

#define MAX_CHANNELS 128
#define MAX_FRAMES 8192

static jack_port_t *in_ports[MAX_CHANNELS], *out_ports[MAX_CHANNELS];
static unsigned n_channels;
/* The host's buffers, allocated once: an in-process driver's double
 * buffers (one half is enough here, the copies are what costs). */
static float host_in[MAX_CHANNELS][MAX_FRAMES], host_out[MAX_CHANNELS][MAX_FRAMES];
static volatile sig_atomic_t quit;
static volatile long cycles;
static volatile long tid;

/* Kept out of line so callgrind reports it as one function. */
__attribute__((noinline)) static int baseline_process(jack_nframes_t nframes, void *arg)
{
    (void)arg;
    size_t bytes = (size_t)nframes * sizeof(float);
    for (unsigned ch = 0; ch < n_channels; ch++) {
        memcpy(host_in[ch], jack_port_get_buffer(in_ports[ch], nframes), bytes);
        memcpy(host_out[ch], host_in[ch], bytes); /* the host's work */
        memcpy(jack_port_get_buffer(out_ports[ch], nframes), host_out[ch], bytes);
    }
    if (!cycles)
        tid = syscall(SYS_gettid); /* once, for the benchmark to find this thread */
    cycles++;
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    quit = 1;
}

int main(int argc, char **argv)
{
    const char *name = "baseline";
    double seconds = 0;
    static const struct option opts[] = {
        {"channels", required_argument, 0, 'c'}, {"name", required_argument, 0, 'n'},
        {"seconds", required_argument, 0, 's'},  {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': n_channels = (unsigned)atoi(optarg); break;
        case 'n': name = optarg; break;
        case 's': seconds = atof(optarg); break;
        default:
            fprintf(stderr, "usage: baseline --channels N [--name NAME] [--seconds S]\n");
            return 2;
        }
    }
    if (n_channels < 1 || n_channels > MAX_CHANNELS) {
        fprintf(stderr, "baseline: --channels must be 1..%d\n", MAX_CHANNELS);
        return 2;
    }
    const char *max_env = getenv("ASIOJACK_BENCH_CYCLES");
    long max_cycles = max_env ? atol(max_env) : 0;

    jack_status_t status;
    jack_client_t *client = jack_client_open(name, JackNoStartServer, &status);
    if (!client) {
        fprintf(stderr, "baseline: cannot open a JACK client (status 0x%x)\n", status);
        return 1;
    }
    if (jack_get_buffer_size(client) > MAX_FRAMES) {
        fprintf(stderr, "baseline: period above %d frames\n", MAX_FRAMES);
        return 1;
    }
    for (unsigned ch = 0; ch < n_channels; ch++) {
        char port[32];
        snprintf(port, sizeof(port), "in_%u", ch + 1);
        in_ports[ch] = jack_port_register(client, port, JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        snprintf(port, sizeof(port), "out_%u", ch + 1);
        out_ports[ch] = jack_port_register(client, port, JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        if (!in_ports[ch] || !out_ports[ch]) {
            fprintf(stderr, "baseline: cannot register ports\n");
            return 1;
        }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if (jack_set_process_callback(client, baseline_process, NULL) || jack_activate(client)) {
        fprintf(stderr, "baseline: cannot activate\n");
        return 1;
    }
    while (!cycles && !quit)
        usleep(1000);
    printf("READY %s %ld\n", jack_get_client_name(client), (long)tid);
    fflush(stdout);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!quit) {
        usleep(max_cycles ? 1000 : 20000);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (seconds > 0 && (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 > seconds)
            break;
        if (max_cycles && cycles >= max_cycles)
            break;
    }
    jack_deactivate(client);
    printf("{\"cycles\": %ld}\n", (long)cycles);
    jack_client_close(client);
    return 0;
}
