/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * latency.c: latency truth.
 *
 * The engine adds no latency: the outputs of cycle n are the host's answer
 * to the inputs of cycle n.  So
 *
 *   - the host is told exactly JACK's figures: input latency = the worst
 *     capture latency reaching the program's (active) inputs, output
 *     latency = the worst playback latency behind its (active) outputs,
 *     no period added: a capture port's latency in JACK already counts the
 *     period it takes to fill (jack2's JackAudioDriver::UpdateLatencies);
 *   - JACK is told what its default propagation would say for a client
 *     that adds nothing: installing a latency callback turns that default
 *     off for this client, so the callback must do it itself, or every
 *     client downstream of a Windows program sees 0.
 */
#include "latency.h"

#include <stdlib.h>
#include <string.h>

#include "shm.h"

/*
 * The latency range `port` gets from its connections in `mode`: the widest
 * range among the ports it is connected to, as JACK computes it for a
 * port ({0, 0} when unconnected).  Returns 0 when it has no connections.
 * Read from the peers rather than from our own port, so it is right even
 * before JACK recomputed our ports (the server asks at once after it
 * connected them), and with libjacks that leave our own port's range of
 * the other direction alone (PipeWire's, for an output's playback range).
 */
static int range_from_peers(jack_client_t *client, jack_port_t *port,
                            jack_latency_callback_mode_t mode, jack_latency_range_t *out)
{
    const char **peers = jack_port_get_all_connections(client, port);
    jack_latency_range_t widest = {UINT32_MAX, 0};
    int connected = 0;
    for (size_t i = 0; peers && peers[i]; i++) {
        jack_port_t *peer = jack_port_by_name(client, peers[i]);
        jack_latency_range_t range = {0, 0};
        if (!peer)
            continue;
        jack_port_get_latency_range(peer, mode, &range);
        connected = 1;
        if (range.min < widest.min)
            widest.min = range.min;
        if (range.max > widest.max)
            widest.max = range.max;
    }
    if (peers)
        jack_free(peers);
    if (!connected)
        widest.min = 0;
    *out = widest;
    return connected;
}

/* Worst latency of the physical ports of one direction: what connecting
 * the program to the hardware would give. */
static uint32_t worst_physical(jack_client_t *client, unsigned long flags,
                               jack_latency_callback_mode_t mode)
{
    const char **names = jack_get_ports(client, NULL, JACK_DEFAULT_AUDIO_TYPE,
                                        JackPortIsPhysical | flags);
    uint32_t worst = 0;
    if (!names)
        return 0;
    for (size_t i = 0; names[i]; i++) {
        jack_port_t *port = jack_port_by_name(client, names[i]);
        jack_latency_range_t range = {0, 0};
        if (!port)
            continue;
        jack_port_get_latency_range(port, mode, &range);
        if (range.max > worst)
            worst = range.max;
    }
    jack_free(names);
    return worst;
}

/*
 * The latency of one side for the host: the worst over the channels the
 * host activated (over all channels before createBuffers, or when it
 * activated none on this side).  With none of them connected the program
 * hears and plays nothing yet; the honest figure is then what a connection
 * to the physical ports would give, which is also what autoconnect makes
 * and what a DAW should plan for.
 */
static uint32_t side_latency(const struct asiojack_engine *e, int outputs)
{
    jack_port_t *const *ports = outputs ? e->out_ports : e->in_ports;
    const uint8_t *active = outputs ? e->shm->out_active : e->shm->in_active;
    uint32_t n = outputs ? e->n_outputs : e->n_inputs;
    jack_latency_callback_mode_t mode = outputs ? JackPlaybackLatency : JackCaptureLatency;

    int any_active = 0;
    for (uint32_t ch = 0; ch < n; ch++)
        any_active |= __atomic_load_n(&active[ch], __ATOMIC_RELAXED) != 0;
    int64_t worst = -1;
    for (uint32_t ch = 0; ch < n; ch++) {
        if (!ports[ch] || (any_active && !__atomic_load_n(&active[ch], __ATOMIC_RELAXED)))
            continue;
        jack_latency_range_t range;
        if (range_from_peers(e->client, ports[ch], mode, &range) && range.max > worst)
            worst = range.max;
    }
    if (worst >= 0)
        return (uint32_t)worst;
    /* Our inputs are fed by physical outputs (capture), our outputs feed
     * physical inputs (playback). */
    return worst_physical(e->client, outputs ? JackPortIsInput : JackPortIsOutput, mode);
}

int asiojack_engine_update_latencies(struct asiojack_engine *e)
{
    struct asiojack_shm *s = e->shm;
    uint32_t in = side_latency(e, 0), out = side_latency(e, 1);
    int changed = __atomic_exchange_n(&s->input_latency, in, __ATOMIC_ACQ_REL) != in;
    changed |= __atomic_exchange_n(&s->output_latency, out, __ATOMIC_ACQ_REL) != out;
    if (changed)
        asiojack_shm_raise_event(s, ASIOJACK_EVENT_LATENCY);
    return changed;
}

/*
 * JACK's default for a client without a latency callback, done by hand:
 * every port is taken to depend on every port of the other direction, and
 * the client adds nothing.  The widest range reaching `from` (our inputs'
 * capture ranges, or our outputs' playback ranges) goes on every port of
 * the other direction.
 */
static void propagate(jack_client_t *client, jack_port_t *const *from, uint32_t n_from,
                      jack_port_t *const *to, uint32_t n_to, jack_latency_callback_mode_t mode)
{
    jack_latency_range_t widest = {UINT32_MAX, 0};
    for (uint32_t i = 0; i < n_from; i++) {
        jack_latency_range_t r;
        if (!from[i])
            continue;
        range_from_peers(client, from[i], mode, &r);
        if (r.min < widest.min)
            widest.min = r.min;
        if (r.max > widest.max)
            widest.max = r.max;
    }
    if (widest.min == UINT32_MAX)
        widest.min = 0;
    for (uint32_t i = 0; i < n_to; i++)
        if (to[i])
            jack_port_set_latency_range(to[i], mode, &widest);
}

/*
 * JACK's latency callback (notification thread, not the process thread).
 * The graph-order callback comes before JACK has recomputed latencies, so
 * this is the one place where they are known to be current.
 */
static void latency_changed(jack_latency_callback_mode_t mode, void *arg)
{
    struct asiojack_engine *e = arg;
    if (mode == JackCaptureLatency)
        propagate(e->client, e->in_ports, e->n_inputs, e->out_ports, e->n_outputs, mode);
    else
        propagate(e->client, e->out_ports, e->n_outputs, e->in_ports, e->n_inputs, mode);
    asiojack_engine_update_latencies(e);
}

int asiojack_latency_install(struct asiojack_engine *e)
{
    return jack_set_latency_callback(e->client, latency_changed, e);
}
