/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unixlib.h: the calls from the PE driver into its Wine unix library.
 *
 * Both halves include this file: the PE side built by MinGW (LLP64) and
 * the unix side built by gcc (LP64).  Each call takes one pointer to a
 * params struct made of fixed-width fields only, with addresses carried
 * as uint64_t, so the two compilers lay it out identically (the static
 * asserts pin that).
 */
#ifndef ASIOJACK_UNIXLIB_H
#define ASIOJACK_UNIXLIB_H

#include <stddef.h>
#include <stdint.h>

#include "asiojack_abi.h"

/* Index into the unix library's __wine_unix_call_funcs table. */
enum asiojack_unix_func {
    ASIOJACK_UNIX_OPEN,            /* connect (autostart) + open the session */
    ASIOJACK_UNIX_CLOSE,
    ASIOJACK_UNIX_CREATE_BUFFERS,
    ASIOJACK_UNIX_DISPOSE_BUFFERS,
    ASIOJACK_UNIX_START,
    ASIOJACK_UNIX_STOP,
    ASIOJACK_UNIX_BUFFER,          /* address of one channel buffer */
    ASIOJACK_UNIX_WAIT,
    ASIOJACK_UNIX_DONE,
    ASIOJACK_UNIX_SET_RT,
    ASIOJACK_UNIX_POSITION,
    ASIOJACK_UNIX_SET_MONITOR,     /* ASIO input monitoring (future()) */
    ASIOJACK_UNIX_TRANSPORT,       /* JACK transport commands (future()) */
    ASIOJACK_UNIX_CONTROL_PANEL,   /* start `asiojack settings` if a display exists */
    ASIOJACK_UNIX_TRACE,           /* append a line to $ASIOJACK_TRACE (entry.c) */
    ASIOJACK_UNIX_FUNC_COUNT
};

/*
 * Head of every control call.  Control calls fail in words: the text is
 * what the host later reads through getErrorMessage.
 */
/* The status of a server that answered with an error (client.h's
 * ASIOJACK_CLIENT_REFUSED, which the PE side cannot include). */
#define ASIOJACK_UNIX_REFUSED (-4)

struct asiojack_unix_control {
    uint64_t client;                /* handle from OPEN (in; out for OPEN) */
    int32_t status;                 /* out: enum asiojack_client_status */
    uint32_t reserved;
    char error[ASIOJACK_TEXT_LEN];  /* out, when status != 0 */
};

struct asiojack_unix_open_params {
    struct asiojack_unix_control ctl;
    uint64_t shm;                   /* out: the mapped segment, same process */
    struct asiojack_layout layout;  /* out: its geometry, checked once; the PE
                                     * side sizes and indexes by this copy */
    uint32_t bits;                  /* 32 or 64: the host process */
    uint32_t autostart;             /* start `asiojack serve` if none answers */
    char exe_name[ASIOJACK_TEXT_LEN];    /* e.g. "REAPER.exe" */
    char client_name[ASIOJACK_NAME_LEN]; /* wished JACK name, "" = server's choice */
};

/* CLOSE, DISPOSE_BUFFERS, START and STOP take only the head. */

struct asiojack_unix_create_params {
    struct asiojack_unix_control ctl;
    uint32_t frames;
    uint32_t reserved;
    uint8_t in_active[ASIOJACK_MAX_CHANNELS];
    uint8_t out_active[ASIOJACK_MAX_CHANNELS];
};

struct asiojack_unix_buffer_params {
    uint64_t client;
    uint32_t is_input;
    uint32_t half;
    uint32_t channel;
    uint32_t reserved;
    uint64_t address;               /* out: 0 if out of range */
};

/* The audio path: one WAIT per cycle, which first reports the previous
 * cycle done (done_seq), so each cycle costs one unix call; DONE alone
 * only when events must reach the host between the two. */
struct asiojack_unix_wait_params {
    uint64_t client;
    uint64_t quit_address;          /* an int32 the PE side sets to end the
                                     * wait early (stop()); 0 = none */
    uint32_t timeout_ms;
    uint32_t ready;                 /* out: 1 = cycle `seq` is ready */
    uint32_t seq;                   /* out: the cycle; its half is seq & 1 */
    uint32_t events;                /* out: enum asiojack_event bits */
    /* out, from the cycle's asiojack_time when ready: */
    uint64_t sample_position;
    uint64_t age_ns;                /* how long ago the cycle started */
    uint64_t transport_frame;
    uint32_t sample_rate;
    uint32_t frames;
    uint32_t time_flags;            /* enum asiojack_time_flags */
    uint32_t done_seq;              /* in: cycle to report done before
                                     * waiting (as DONE does), 0 = none;
                                     * the engine never publishes cycle 0 */
};

/* WAIT's own event bit, beside the segment's enum asiojack_event ones: the
 * server's end of the control socket closed (it died), so no cycle and no
 * event will come from it again. */
#define ASIOJACK_UNIX_EVENT_SERVER_GONE 0x80000000u

struct asiojack_unix_done_params {
    uint64_t client;
    uint32_t seq;
    uint32_t reserved;
};

/* Give the calling thread SCHED_FIFO; once per thread, at its start. */
struct asiojack_unix_rt_params {
    int32_t priority;               /* in: wanted (JACK's minus one), -1 = JACK
                                     * is not real-time, 0 = $ASIOJACK_RT_PRIORITY or 70;
                                     * out: the priority set, 0 if none */
    int32_t status;                 /* out: 0 or an errno value */
    int32_t cpu;                    /* in: the CPU to run on (the session's
                                     * JACK thread's), -1 = any; out: the
                                     * CPU pinned to, -1 if none */
    int32_t cpu_status;             /* out: 0 or why pinning was refused */
    char error[ASIOJACK_TEXT_LEN];  /* out: why not, in words */
};

/* getSamplePosition: the last cycle handed to the host. */
struct asiojack_unix_position_params {
    uint64_t client;
    uint64_t sample_position;       /* out */
    uint64_t age_ns;                /* out: how long ago that cycle started */
    uint32_t valid;                 /* out: 0 before the first cycle */
    uint32_t reserved;
};

struct asiojack_unix_monitor_params {
    struct asiojack_unix_control ctl;
    int32_t input;                  /* -1 = every input */
    int32_t output;
    int32_t gain;                   /* ASIO units, 0x20000000 = unity */
    int32_t pan;
    uint32_t on;
    uint32_t reserved;
};

struct asiojack_unix_transport_params {
    struct asiojack_unix_control ctl;
    uint32_t command;               /* enum asiojack_transport_command */
    uint32_t reserved;
    uint64_t frame;                 /* LOCATE target */
};

/* CONTROL_PANEL needs no session: it only looks at the environment. */
struct asiojack_unix_panel_params {
    int32_t status;                 /* out: enum asiojack_panel_status */
    uint32_t reserved;
    char error[ASIOJACK_TEXT_LEN];  /* out: what to do instead, or why it failed */
};

enum asiojack_panel_status {
    ASIOJACK_PANEL_STARTED = 0,     /* the settings window is on its way */
    ASIOJACK_PANEL_NO_DISPLAY = 1,  /* neither DISPLAY nor WAYLAND_DISPLAY */
    ASIOJACK_PANEL_FAILED = 2,      /* sh could not be run */
};

/* TRACE: one line of the IASIO call trace; the unix side adds the time. */
struct asiojack_unix_trace_params {
    uint32_t thread_id;             /* the Windows thread that called */
    uint32_t reserved;
    char line[ASIOJACK_TEXT_LEN];
};

/* Same numbers for MinGW and gcc, i386 and x86_64. */
_Static_assert(sizeof(struct asiojack_unix_control) == 272, "control size");
_Static_assert(sizeof(struct asiojack_unix_open_params) == 272 + 16 + 40 + 256 + 64,
               "open size");
_Static_assert(sizeof(struct asiojack_unix_create_params) == 272 + 8 + 256,
               "create size");
_Static_assert(sizeof(struct asiojack_unix_buffer_params) == 32, "buffer size");
_Static_assert(offsetof(struct asiojack_unix_wait_params, sample_position) == 32,
               "wait layout");
_Static_assert(sizeof(struct asiojack_unix_wait_params) == 72, "wait size");
_Static_assert(sizeof(struct asiojack_unix_done_params) == 16, "done size");
_Static_assert(sizeof(struct asiojack_unix_rt_params) == 272, "rt size");
_Static_assert(sizeof(struct asiojack_unix_position_params) == 32,
               "position size");

_Static_assert(sizeof(struct asiojack_unix_monitor_params) == 272 + 24, "monitor size");
_Static_assert(sizeof(struct asiojack_unix_transport_params) == 272 + 16, "transport size");
_Static_assert(sizeof(struct asiojack_unix_panel_params) == 264, "panel size");
_Static_assert(sizeof(struct asiojack_unix_trace_params) == 264, "trace size");

#endif /* ASIOJACK_UNIXLIB_H */
