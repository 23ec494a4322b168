/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cycle.c: the audio path.  The PE callback thread calls WAIT, runs the
 * host's bufferSwitch, then WAIT again with that cycle as done_seq: one
 * unix call per cycle marks it done and waits for the next (DONE alone is
 * for when the host must hear of events in between).  Nothing here
 * touches the socket.
 */
#include "futex.h"
#include "unix_private.h"

/* Nanoseconds since `then` (CLOCK_MONOTONIC); the PE side turns that age
 * into its own time base, so the two clocks never need to agree. */
static uint64_t age_of(uint64_t then)
{
    uint64_t now = asiojack_now_ns();
    return now > then ? now - then : 0;
}

/*
 * Wait in slices so that stop() is noticed within one slice: after the
 * server stops the engine no cycle will come to end the wait, and nothing
 * else wakes the futex.  While JACK runs, cycles end the wait long before a
 * slice does, so slicing costs nothing on the audio path.
 */
#define SLICE_MS 10

static int quit_requested(uint64_t address)
{
    return address && __atomic_load_n((const int32_t *)(uintptr_t)address, __ATOMIC_ACQUIRE);
}

asiojack_ntstatus asiojack_unix_wait(void *args)
{
    struct asiojack_unix_wait_params *p = args;
    struct asiojack_client *c = asiojack_unix_client(p->client);
    uint32_t seq = 0, events = 0;
    if (!c || !c->shm)
        return ASIOJACK_STATUS_INVALID_PARAMETER;
    /* First the cycle the host just finished: the engine waits for it. */
    if (p->done_seq)
        asiojack_client_done(c, p->done_seq);

    uint64_t deadline = asiojack_now_ns() + (uint64_t)p->timeout_ms * 1000000u;
    int ready = 0;
    for (;;) {
        uint64_t now = asiojack_now_ns();
        if (now >= deadline || quit_requested(p->quit_address))
            break;
        uint64_t left_ms = (deadline - now + 999999u) / 1000000u;
        ready = asiojack_client_wait(c, &seq, &events, left_ms < SLICE_MS ? (int)left_ms : SLICE_MS);
        if (ready || events)
            break;
        /* A slice with no cycle: is the server still there?  Only asked
         * when cycles are not coming, so it costs the audio path nothing. */
        if (!asiojack_client_server_alive(c)) {
            events = ASIOJACK_UNIX_EVENT_SERVER_GONE;
            break;
        }
    }
    p->ready = (uint32_t)ready;
    p->seq = seq;
    p->events = events;
    if (p->ready) {
        /* The engine fills the other half's record next, not this one. */
        const struct asiojack_time *t = &c->shm->time[seq & 1];
        p->sample_position = t->sample_position;
        p->age_ns = age_of(t->system_time_ns);
        p->transport_frame = t->transport_frame;
        p->sample_rate = t->sample_rate;
        p->frames = t->frames;
        p->time_flags = t->flags;
    }
    return ASIOJACK_STATUS_SUCCESS;
}

asiojack_ntstatus asiojack_unix_done(void *args)
{
    struct asiojack_unix_done_params *p = args;
    struct asiojack_client *c = asiojack_unix_client(p->client);
    if (!c || !c->shm)
        return ASIOJACK_STATUS_INVALID_PARAMETER;
    asiojack_client_done(c, p->seq);
    return ASIOJACK_STATUS_SUCCESS;
}

asiojack_ntstatus asiojack_unix_position(void *args)
{
    struct asiojack_unix_position_params *p = args;
    struct asiojack_client *c = asiojack_unix_client(p->client);
    if (!c || !c->shm)
        return ASIOJACK_STATUS_INVALID_PARAMETER;

    /* Hosts ask from any thread, usually inside bufferSwitch: the record of
     * the cycle last handed out is the one they mean. */
    uint32_t seq = __atomic_load_n(&c->last_seq, __ATOMIC_ACQUIRE);
    const struct asiojack_time *t = &c->shm->time[seq & 1];
    uint64_t start_ns = __atomic_load_n(&t->system_time_ns, __ATOMIC_ACQUIRE);
    p->valid = start_ns != 0;
    p->sample_position = __atomic_load_n(&t->sample_position, __ATOMIC_ACQUIRE);
    p->age_ns = start_ns ? age_of(start_ns) : 0;
    return ASIOJACK_STATUS_SUCCESS;
}
