/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shm.h: laying out and checking a session segment.  The server sizes and
 * initialises it; the driver checks what it mapped before trusting it.
 */
#ifndef ASIOJACK_SHM_H
#define ASIOJACK_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "asiojack_abi.h"

/* Bytes between two channel buffers for a given frame capacity. */
uint32_t asiojack_shm_channel_stride(uint32_t max_frames);

/* Total bytes of a segment for these channel counts (0 if out of range). */
uint64_t asiojack_shm_size(uint32_t n_inputs, uint32_t n_outputs,
                           uint32_t max_frames);

/* Fill the identity block of a zeroed segment of asiojack_shm_size() bytes. */
void asiojack_shm_init(void *base, uint32_t n_inputs, uint32_t n_outputs,
                       uint32_t max_frames, uint32_t sample_type,
                       uint32_t session_id);

/*
 * Check a mapped segment of `mapped` bytes: magic, version and that every
 * buffer lies inside the mapping.  Returns NULL when it is sound, else a
 * sentence saying what is wrong (static storage).
 */
const char *asiojack_shm_check(const void *base, uint64_t mapped);

/*
 * Copy the geometry of a mapped segment of `mapped` bytes into *out, then
 * check the copy (as asiojack_shm_check does).  The copy is what the
 * driver uses from then on: a word changed in the segment after this call
 * cannot move a buffer outside the mapping.  Returns NULL when sound, else
 * a sentence saying what is wrong (static storage).
 */
const char *asiojack_shm_layout(const void *base, uint64_t mapped,
                                struct asiojack_layout *out);

/* Raise event bits and wake the peer (server side, any thread). */
void asiojack_shm_raise_event(void *base, uint32_t bits);

/* Bytes per sample of a sample type, 0 for an unknown one. */
uint32_t asiojack_sample_bytes(uint32_t sample_type);

#endif /* ASIOJACK_SHM_H */
