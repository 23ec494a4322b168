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
    s->protocol_version = ASIOJACK_PROTOCOL_VERSION;
    for (uint32_t ch = 0; ch < ASIOJACK_MAX_CHANNELS; ch++) {
        s->monitor[ch].output = -1; /* no input monitoring until asked */
        s->monitor[ch].gain = 1.0f;
    }
    /* The magic goes last: a segment with it is complete. */
    __atomic_store_n(&s->magic, ASIOJACK_SHM_MAGIC, __ATOMIC_RELEASE);
}

const char *asiojack_shm_check(const void *base, uint64_t mapped)
{
    const struct asiojack_shm *s = base;
    if (mapped < sizeof(*s))
        return "shared memory segment is smaller than its header";
    if (s->magic != ASIOJACK_SHM_MAGIC)
        return "shared memory segment is not an asiojack segment";
    if (s->protocol_version != ASIOJACK_PROTOCOL_VERSION)
        return "shared memory segment has another protocol version";
    if (s->header_size != sizeof(*s) || s->audio_offset < sizeof(*s))
        return "shared memory header has an unexpected size";
    if (s->n_inputs > ASIOJACK_MAX_CHANNELS || s->n_outputs > ASIOJACK_MAX_CHANNELS)
        return "shared memory segment has too many channels";
    if (s->max_frames == 0 || s->max_frames > ASIOJACK_MAX_FRAMES ||
        s->channel_stride < s->max_frames * 4u)
        return "shared memory segment has a bad buffer geometry";
    if (s->total_size > mapped ||
        s->audio_offset + 2ull * (s->n_inputs + s->n_outputs) * s->channel_stride >
            s->total_size)
        return "shared memory buffers lie outside the segment";
    return NULL;
}

void asiojack_shm_raise_event(void *base, uint32_t bits)
{
    struct asiojack_shm *s = base;
    asiojack_raise_events(s, bits);
    asiojack_futex_wake(&s->doorbell);
}
