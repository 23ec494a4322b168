# SPDX-License-Identifier: LGPL-2.1-or-later
"""Emit the C source of the ``pyjack_side._engine`` cffi extension.

Run by meson at build time: ``cffi_build.py OUTPUT.c``.  The declarations
below only *name* fields and constants; every value and offset comes from
``asiojack_abi.h`` when the generated file is compiled (the ``...``
markers), so Python never restates the layout.
"""

import sys

import cffi

CDEF = """
#define ASIOJACK_PROTOCOL_VERSION ...
#define ASIOJACK_SHM_MAGIC ...
#define ASIOJACK_MSG_MAGIC ...
#define ASIOJACK_MAX_CHANNELS ...
#define ASIOJACK_MAX_FRAMES ...
#define ASIOJACK_NAME_LEN ...
#define ASIOJACK_TEXT_LEN ...
#define ASIOJACK_MAX_MESSAGE ...
#define ASIOJACK_WAIT_BUCKETS ...
#define ASIOJACK_WAIT_BUCKET_SHIFT ...
#define ASIOJACK_MONITOR_UNITY ...
#define ASIOJACK_STATUS_VERSION ...

enum asiojack_buffer_mode { ASIOJACK_BUFFER_JACK, ASIOJACK_BUFFER_HOST, ... };
enum asiojack_transport_command {
    ASIOJACK_TRANSPORT_START, ASIOJACK_TRANSPORT_STOP, ASIOJACK_TRANSPORT_LOCATE, ...
};

enum asiojack_sample_type {
    ASIOJACK_SAMPLE_FLOAT32, ASIOJACK_SAMPLE_INT32,
    ASIOJACK_SAMPLE_INT24, ASIOJACK_SAMPLE_INT16, ...
};
enum asiojack_event {
    ASIOJACK_EVENT_BUFFER_SIZE, ASIOJACK_EVENT_SAMPLE_RATE,
    ASIOJACK_EVENT_LATENCY, ASIOJACK_EVENT_JACK_GONE, ASIOJACK_EVENT_RESET,
    ASIOJACK_EVENT_OVERLOAD, ASIOJACK_EVENT_STALLED, ...
};
enum asiojack_msg_type {
    ASIOJACK_MSG_HELLO, ASIOJACK_MSG_OPEN, ASIOJACK_MSG_CREATE_BUFFERS,
    ASIOJACK_MSG_DISPOSE_BUFFERS, ASIOJACK_MSG_START, ASIOJACK_MSG_STOP,
    ASIOJACK_MSG_CLOSE, ASIOJACK_MSG_SET_MONITOR, ASIOJACK_MSG_TRANSPORT,
    ASIOJACK_MSG_STATUS,
    ASIOJACK_MSG_OK, ASIOJACK_MSG_ERROR,
    ASIOJACK_MSG_WELCOME, ASIOJACK_MSG_OPENED, ASIOJACK_MSG_REDIRECT,
    ASIOJACK_MSG_STATUS_REPLY, ...
};
enum asiojack_error_code {
    ASIOJACK_ERR_VERSION, ASIOJACK_ERR_MALFORMED, ASIOJACK_ERR_STATE,
    ASIOJACK_ERR_INVALID, ASIOJACK_ERR_JACK, ASIOJACK_ERR_INTERNAL, ...
};

struct asiojack_time {
    uint64_t sample_position; uint64_t system_time_ns; uint64_t transport_frame;
    uint32_t frames; uint32_t sample_rate; uint32_t flags;
    ...;
};

struct asiojack_monitor { int32_t output; float gain; ...; };

struct asiojack_shm {
    uint32_t magic; uint32_t protocol_version; uint32_t header_size;
    uint32_t audio_offset; uint64_t total_size;
    uint32_t n_inputs; uint32_t n_outputs; uint32_t max_frames;
    uint32_t channel_stride; uint32_t sample_type; uint32_t bytes_per_sample;
    uint32_t session_id;
    uint32_t doorbell; uint32_t ready_seq; uint32_t events;
    uint32_t engine_sleeping; uint64_t engine_sleeps; uint64_t spin_caught;
    uint64_t spin_missed;
    uint32_t done_seq; uint64_t late;
    int32_t peer_rt_priority; int32_t peer_rt_errno; int32_t peer_cpu; int32_t peer_cpu_errno;
    uint32_t running; uint32_t buffer_frames; uint32_t sample_rate;
    uint32_t jack_buffer_frames; uint32_t input_latency;
    uint32_t output_latency; uint32_t deadline_permille; int32_t jack_rt_priority;
    uint32_t buffer_mode; uint32_t min_host_frames; uint32_t max_host_frames;
    uint32_t start_generation; uint64_t meters_until_ns; int32_t driver_cpu;
    uint64_t cycles; uint64_t completed; uint64_t misses;
    uint64_t skipped; uint64_t max_wait_ns; uint64_t sample_position;
    uint64_t stalls; uint64_t unwaited;
    struct asiojack_time time[2];
    uint8_t in_active[...];
    uint8_t out_active[...];
    char in_names[][64];
    char out_names[][64];
    char client_name[...];
    uint32_t wait_histogram[...];
    struct asiojack_monitor monitor[...];
    float in_peak[...];
    float out_peak[...];
    uint32_t in_clips[...];
    uint32_t out_clips[...];
    ...;
};

struct asiojack_msg_header { uint32_t magic; uint32_t type; uint32_t size; ...; };
struct asiojack_msg_hello {
    uint32_t protocol_version; uint32_t pid; uint32_t bits; char exe_name[...]; ...;
};
struct asiojack_msg_welcome {
    uint32_t protocol_version; uint32_t server_pid; char server_version[...]; ...;
};
struct asiojack_msg_error {
    int32_t code; uint32_t server_protocol_version; char message[...]; ...;
};
struct asiojack_msg_open {
    char client_name[...]; uint32_t n_inputs; uint32_t n_outputs; char jack_server[...]; ...;
};
struct asiojack_msg_redirect { char jack_server[...]; char socket_path[...]; ...; };
struct asiojack_msg_opened {
    uint32_t session_id; uint32_t shm_size_lo; uint32_t shm_size_hi;
    char client_name[...]; ...;
};
struct asiojack_msg_create_buffers {
    uint32_t frames; uint8_t in_active[...]; uint8_t out_active[...]; ...;
};
struct asiojack_msg_set_monitor {
    int32_t input; int32_t output; int32_t gain; int32_t pan; uint32_t on; ...;
};
struct asiojack_msg_transport {
    uint32_t command; uint32_t frame_lo; uint32_t frame_hi; ...;
};
struct asiojack_msg_status_reply { uint32_t status_version; uint32_t json_size; ...; };

struct asiojack_engine { ...; };

uint32_t asiojack_shm_channel_stride(uint32_t max_frames);
uint64_t asiojack_shm_size(uint32_t n_inputs, uint32_t n_outputs, uint32_t max_frames);
void asiojack_shm_init(void *base, uint32_t n_inputs, uint32_t n_outputs,
                       uint32_t max_frames, uint32_t sample_type, uint32_t session_id);
const char *asiojack_shm_check(const void *base, uint64_t mapped);
void asiojack_shm_raise_event(void *base, uint32_t bits);
uint32_t asiojack_sample_bytes(uint32_t sample_type);

void asiojack_convert_from_float(void *dst, const float *src, uint32_t frames,
                                 uint32_t sample_type);
void asiojack_convert_to_float(float *dst, const void *src, uint32_t frames,
                               uint32_t sample_type);

void asiojack_engine_init(struct asiojack_engine *e, void *shm_base, uintptr_t jack_client);
int asiojack_engine_set_port(struct asiojack_engine *e, int is_output,
                             uint32_t channel, uintptr_t jack_port);
int asiojack_engine_install(struct asiojack_engine *e);
int asiojack_engine_update_latencies(struct asiojack_engine *e);
int asiojack_lock_segment(void *base, uint64_t size);

/* the contract's accessors for the shared words (asiojack_abi.h) */
void asiojack_set_running(struct asiojack_shm *s, uint32_t running);
void asiojack_begin_start(struct asiojack_shm *s);
uint32_t asiojack_start_generation(const struct asiojack_shm *s);
void asiojack_want_meters(struct asiojack_shm *s, uint64_t until_ns);
uint32_t asiojack_is_running(const struct asiojack_shm *s);
void asiojack_set_monitor(struct asiojack_shm *s, uint32_t ch, int32_t output, float gain);
int32_t asiojack_monitor_route(const struct asiojack_shm *s, uint32_t ch, float *gain);
void asiojack_raise_events(struct asiojack_shm *s, uint32_t bits);
uint32_t asiojack_take_events(struct asiojack_shm *s);
uint32_t asiojack_ready_seq(const struct asiojack_shm *s);
uint32_t asiojack_done_seq(const struct asiojack_shm *s);

uint32_t asiojack_port_latency_max(uintptr_t jack_port, int capture);
int asiojack_client_rt_priority(uintptr_t jack_client);
int asiojack_pin_process_thread(uintptr_t jack_client, int cpu);
void asiojack_engine_set_colocated(struct asiojack_engine *e, int colocated);
"""

SOURCE = """
#include "asiojack_abi.h"
#include "shm.h"
#include "convert.h"
#include "engine.h"
#include "jackinfo.h"
#include "latency.h"
#include "memlock.h"
"""


def main() -> None:
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source("pyjack_side._engine", SOURCE)
    ffi.emit_c_code(sys.argv[1])


if __name__ == "__main__":
    main()
