/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* shm.c: segment layout, initialisation and validation. */
#include "shm.h"

#include <string.h>

#include "futex.h"

uint32_t asiojack_sample_bytes(uint32_t sample_type)
{
    switch (sample_type) {
    case ASIOJACK_SAMPLE_FLOAT32:
    case ASIOJACK_SAMPLE_INT32:
        return 4;
    case ASIOJACK_SAMPLE_INT24:
        return 3;
    case ASIOJACK_SAMPLE_INT16:
        return 2;
    default:
        return 0;
    }
}

uint32_t asiojack_shm_channel_stride(uint32_t max_frames)
{
    /* Room for the widest sample type, so a format change never relayouts. */
    uint32_t bytes = max_frames * 4u;
    return (bytes + ASIOJACK_CACHE_LINE - 1) & ~(uint32_t)(ASIOJACK_CACHE_LINE - 1);
}

uint64_t asiojack_shm_size(uint32_t n_inputs, uint32_t n_outputs,
                           uint32_t max_frames)
{
    if (n_inputs > ASIOJACK_MAX_CHANNELS || n_outputs > ASIOJACK_MAX_CHANNELS ||
        max_frames == 0 || max_frames > ASIOJACK_MAX_FRAMES)
        return 0;
    return sizeof(struct asiojack_shm) +
           2ull * (n_inputs + n_outputs) * asiojack_shm_channel_stride(max_frames);
}

void asiojack_shm_init(void *base, uint32_t n_inputs, uint32_t n_outputs,
                       uint32_t max_frames, uint32_t sample_type,
                       uint32_t session_id)
{
    struct asiojack_shm *s = base;
    s->header_size = sizeof(*s);
    s->audio_offset = sizeof(*s);
    s->total_size = asiojack_shm_size(n_inputs, n_outputs, max_frames);
    s->n_inputs = n_inputs;
    s->n_outputs = n_outputs;
    s->max_frames = max_frames;
    s->channel_stride = asiojack_shm_channel_stride(max_frames);
    s->sample_type = sample_type;
    s->bytes_per_sample = asiojack_sample_bytes(sample_type);
    s->session_id = session_id;
    s->driver_cpu = -1; /* no pinning until the server pins the JACK thread */
    s->peer_cpu = -1;
    s->protocol_version = ASIOJACK_PROTOCOL_VERSION;
    for (uint32_t ch = 0; ch < ASIOJACK_MAX_CHANNELS; ch++) {
        s->monitor[ch].output = -1; /* no input monitoring until asked */
        s->monitor[ch].gain = 1.0f;
    }
    /* The magic goes last: a segment with it is complete. */
    __atomic_store_n(&s->magic, ASIOJACK_SHM_MAGIC, __ATOMIC_RELEASE);
}

/* Check a copied geometry against the segment's identity rules. */
static const char *check_layout(const struct asiojack_layout *l, uint32_t magic,
                                uint32_t version, uint32_t header_size, uint64_t mapped)
{
    if (mapped < sizeof(struct asiojack_shm))
        return "shared memory segment is smaller than its header";
    if (magic != ASIOJACK_SHM_MAGIC)
        return "shared memory segment is not an asiojack segment";
    if (version != ASIOJACK_PROTOCOL_VERSION)
        return "shared memory segment has another protocol version";
    if (header_size != sizeof(struct asiojack_shm) ||
        l->audio_offset < sizeof(struct asiojack_shm))
        return "shared memory header has an unexpected size";
    if (l->n_inputs > ASIOJACK_MAX_CHANNELS || l->n_outputs > ASIOJACK_MAX_CHANNELS)
        return "shared memory segment has too many channels";
    if (l->max_frames == 0 || l->max_frames > ASIOJACK_MAX_FRAMES ||
        l->channel_stride < l->max_frames * 4u ||
        l->bytes_per_sample != asiojack_sample_bytes(l->sample_type) ||
        l->bytes_per_sample == 0)
        return "shared memory segment has a bad buffer geometry";
    if (l->total_size > mapped ||
        l->audio_offset + 2ull * (l->n_inputs + l->n_outputs) * l->channel_stride >
            l->total_size)
        return "shared memory buffers lie outside the segment";
    return NULL;
}

const char *asiojack_shm_layout(const void *base, uint64_t mapped,
                                struct asiojack_layout *out)
{
    /* Volatile reads: each word is read once, here, and the checks below
     * and every later use see that one value, whatever the segment's other
     * users write meanwhile. */
    const volatile struct asiojack_shm *s = base;
    memset(out, 0, sizeof(*out));
    if (mapped < sizeof(struct asiojack_shm))
        return "shared memory segment is smaller than its header";
    uint32_t magic = s->magic, version = s->protocol_version, header_size = s->header_size;
    out->total_size = s->total_size;
    out->audio_offset = s->audio_offset;
    out->n_inputs = s->n_inputs;
    out->n_outputs = s->n_outputs;
    out->max_frames = s->max_frames;
    out->channel_stride = s->channel_stride;
    out->sample_type = s->sample_type;
    out->bytes_per_sample = s->bytes_per_sample;
    const char *bad = check_layout(out, magic, version, header_size, mapped);
    if (bad)
        memset(out, 0, sizeof(*out));
    return bad;
}

const char *asiojack_shm_check(const void *base, uint64_t mapped)
{
    struct asiojack_layout l;
    return asiojack_shm_layout(base, mapped, &l);
}

void asiojack_shm_raise_event(void *base, uint32_t bits)
{
    struct asiojack_shm *s = base;
    asiojack_raise_events(s, bits);
    asiojack_futex_wake(&s->doorbell);
}
