/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * asiojack_abi.h: the contract between the ASIO driver (inside a Wine
 * process) and the asiojack server (a Linux process that owns the JACK
 * client).  It is the single source of truth for
 *
 *   - the shared-memory segment of one session: identity, futex words,
 *     per-cycle time info, counters, channel table and the audio double
 *     buffers;
 *   - the control protocol spoken over the per-user unix socket.
 *
 * Every structure uses fixed-width types with explicit padding, so that an
 * i386 driver (where uint64_t is only 4-byte aligned inside structs) and an
 * x86_64 server agree byte for byte.  The static asserts at the end pin the
 * layout; the Python side reads the same declarations through cffi.
 *
 * Any change of layout or message meaning bumps ASIOJACK_PROTOCOL_VERSION.
 */
#ifndef ASIOJACK_ABI_H
#define ASIOJACK_ABI_H

#include <stddef.h>
#include <stdint.h>

#define ASIOJACK_PROTOCOL_VERSION 5
#define ASIOJACK_SHM_MAGIC 0x4b434a41u  /* "AJCK" little-endian */
#define ASIOJACK_MSG_MAGIC 0x4d434a41u  /* "AJCM" little-endian */

#define ASIOJACK_MAX_CHANNELS 128
#define ASIOJACK_MAX_FRAMES 8192
#define ASIOJACK_NAME_LEN 64            /* JACK short port / client names */
#define ASIOJACK_TEXT_LEN 256           /* error messages, paths */
#define ASIOJACK_CACHE_LINE 64
#define ASIOJACK_MAX_MESSAGE 4096       /* largest payload a peer may send */
#define ASIOJACK_WAIT_BUCKETS 1024      /* histogram of the engine's waits */
#define ASIOJACK_WAIT_BUCKET_SHIFT 11   /* bucket width 2^11 ns = 2.048 us */

/* Sample formats of the audio buffers, as the host sees them. */
enum asiojack_sample_type {
    ASIOJACK_SAMPLE_FLOAT32 = 0,
    ASIOJACK_SAMPLE_INT32 = 1,
    ASIOJACK_SAMPLE_INT24 = 2,
    ASIOJACK_SAMPLE_INT16 = 3,
};

/* Who decides the buffer size (asiojack_shm.buffer_mode). */
enum asiojack_buffer_mode {
    ASIOJACK_BUFFER_JACK = 0,   /* the host's buffer is JACK's period */
    ASIOJACK_BUFFER_HOST = 1,   /* createBuffers sets JACK's period */
};

/* JACK transport commands a host may give (ASIOJACK_MSG_TRANSPORT). */
enum asiojack_transport_command {
    ASIOJACK_TRANSPORT_START = 1,
    ASIOJACK_TRANSPORT_STOP = 2,
    ASIOJACK_TRANSPORT_LOCATE = 3,
};

/* ASIO input-monitor gain: 0 = silence, 0x20000000 = unity (0 dB),
 * 0x7fffffff = +12 dB; linear in between. */
#define ASIOJACK_MONITOR_UNITY 0x20000000

/* Bits of asiojack_shm.events: raised by the server, consumed by the peer. */
enum asiojack_event {
    ASIOJACK_EVENT_BUFFER_SIZE = 1u << 0,
    ASIOJACK_EVENT_SAMPLE_RATE = 1u << 1,
    ASIOJACK_EVENT_LATENCY = 1u << 2,
    ASIOJACK_EVENT_JACK_GONE = 1u << 3,
    ASIOJACK_EVENT_RESET = 1u << 4,
    /* The engine played a cycle as silence: the peer missed its deadline.
     * Raised from the process thread without a wake of its own: the next
     * cycle's doorbell carries it. */
    ASIOJACK_EVENT_OVERLOAD = 1u << 5,
    /* The engine stopped waiting for the peer after a run of misses (it
     * is probed every cycle and waited for again once it keeps up).  Always
     * raised together with OVERLOAD: a host hears one kAsioOverload. */
    ASIOJACK_EVENT_STALLED = 1u << 6,
};

/* asiojack_time.flags */
enum asiojack_time_flags {
    ASIOJACK_TIME_TRANSPORT_ROLLING = 1u << 0,
    ASIOJACK_TIME_TRANSPORT_VALID = 1u << 1,
};

/*
 * What the engine knew about one cycle, written before the cycle is
 * published.  One per buffer half, so the peer reads the half it was woken
 * for while the engine may already fill the other.
 */
struct asiojack_time {
    uint64_t sample_position; /* frames since start(), at the first frame */
    uint64_t system_time_ns;  /* CLOCK_MONOTONIC at the start of the cycle */
    uint64_t transport_frame; /* JACK transport position */
    uint32_t frames;          /* frames in this cycle */
    uint32_t sample_rate;
    uint32_t flags;           /* enum asiojack_time_flags */
    uint32_t reserved[7];
};

/*
 * One session's shared memory.  The fixed part below is followed (at
 * audio_offset) by the audio buffers:
 *
 *   inputs:  [half 0: ch 0 .. n_inputs-1][half 1: ch 0 .. n_inputs-1]
 *   outputs: [half 0: ch 0 .. n_outputs-1][half 1: ...]
 *
 * each channel channel_stride bytes apart (max_frames * 4 rounded up to a
 * cache line), so a host's buffer pointer goes straight into this segment
 * and never needs a copy on the Wine side.
 *
 * Who writes what:
 *   identity           server, before the peer maps the segment
 *   doorbell, ready    engine (JACK process thread); server for events
 *   engine_sleeping,   engine
 *     sleeps, spin_*
 *   done_seq, late     peer (the driver's callback thread)
 *   control, active    server, only while the session is stopped
 *     (meters_until_ns: any time)
 *   counters, time     engine
 */
struct asiojack_shm {
    /* identity: 64 bytes */
    uint32_t magic;
    uint32_t protocol_version;
    uint32_t header_size;      /* sizeof(struct asiojack_shm) */
    uint32_t audio_offset;     /* start of the audio buffers */
    uint64_t total_size;       /* bytes of the whole segment */
    uint32_t n_inputs;         /* JACK input ports = ASIO input channels */
    uint32_t n_outputs;
    uint32_t max_frames;       /* frames each channel buffer can hold */
    uint32_t channel_stride;   /* bytes between two channel buffers */
    uint32_t sample_type;      /* enum asiojack_sample_type */
    uint32_t bytes_per_sample;
    uint32_t session_id;
    uint32_t identity_reserved[3];

    /* engine -> peer futex words: 64 bytes */
    uint32_t doorbell;         /* futex: bumped for every cycle and event */
    uint32_t ready_seq;        /* last cycle published */
    uint32_t events;           /* enum asiojack_event bits, atomically or-ed */
    uint32_t engine_sleeping;  /* 1 while the engine sleeps (or is about to)
                                  on done_seq: the peer wakes it only then */
    uint64_t engine_sleeps;    /* cycles the engine slept on done_seq */
    uint64_t spin_caught;      /* cycles its spin saw the peer done: no
                                  sleep, no wake-up on either side */
    uint64_t spin_missed;      /* spins that ended with the peer not done */
    uint32_t engine_reserved[6];

    /* peer -> engine futex word: 64 bytes */
    uint32_t done_seq;         /* futex: last cycle the peer finished */
    uint32_t peer_pad;
    uint64_t late;             /* completions after their deadline: the peer
                                  counts them, since only it sees them all */
    int32_t peer_rt_priority;  /* SCHED_FIFO priority of the callback thread,
                                  0 = none */
    int32_t peer_rt_errno;     /* why real-time was refused, 0 = it wasn't */
    int32_t peer_cpu;          /* the CPU the callback thread runs on (it
                                  pinned itself to driver_cpu), -1 = any */
    int32_t peer_cpu_errno;    /* why pinning was refused, 0 = it wasn't */
    uint32_t peer_reserved[8];

    /* control: 64 bytes */
    uint32_t running;          /* engine publishes cycles only when 1 */
    uint32_t buffer_frames;    /* frames per cycle the host's buffers hold */
    uint32_t sample_rate;      /* JACK's rate, kept current by the server */
    uint32_t jack_buffer_frames; /* JACK's period, kept current */
    uint32_t input_latency;    /* frames, from JACK port latency ranges */
    uint32_t output_latency;
    uint32_t deadline_permille; /* share of the period the peer may use */
    int32_t jack_rt_priority;  /* the session's JACK thread, -1 = not RT;
                                  the peer's thread goes just below it */
    uint32_t buffer_mode;      /* enum asiojack_buffer_mode */
    uint32_t min_host_frames;  /* the sizes a host may ask for in HOST mode: */
    uint32_t max_host_frames;  /* powers of two from min to max */
    uint32_t start_generation; /* bumped by the server before every start
                                  (asiojack_begin_start): the engine restarts
                                  time and the buffer index when it changes,
                                  even if it never saw running == 0 between */
    uint64_t meters_until_ns;  /* the engine measures peaks (in_peak ...)
                                  in cycles starting before this
                                  CLOCK_MONOTONIC time: someone is looking
                                  (asiojack_want_meters); any time */
    int32_t driver_cpu;        /* the CPU the session's JACK thread is pinned
                                  to: the driver's callback thread goes there
                                  too, so the hand-off stays on one CPU;
                                  -1 = no pinning */
    uint32_t control_reserved[1];

    /* counters, engine-written: 64 bytes */
    uint64_t cycles;           /* cycles published to the peer */
    uint64_t completed;        /* cycles the peer finished in time */
    uint64_t misses;           /* cycles played as silence: deadline missed */
    uint64_t skipped;          /* cycles not published: buffer size mismatch */
    uint64_t max_wait_ns;      /* longest wait for the peer */
    uint64_t sample_position;  /* frames since start() */
    uint64_t stalls;           /* times the peer was declared stalled: the
                                  engine then stops waiting for it */
    uint64_t unwaited;         /* cycles played as silence without waiting,
                                  the peer being stalled (also in misses) */

    /* per-half time info: 2 x 64 bytes */
    struct asiojack_time time[2];

    /* which channels the host activated in createBuffers: 2 x 128 bytes */
    uint8_t in_active[ASIOJACK_MAX_CHANNELS];
    uint8_t out_active[ASIOJACK_MAX_CHANNELS];

    /* JACK short port names, for getChannelInfo: 2 x 128 x 64 bytes */
    char in_names[ASIOJACK_MAX_CHANNELS][ASIOJACK_NAME_LEN];
    char out_names[ASIOJACK_MAX_CHANNELS][ASIOJACK_NAME_LEN];

    /* the JACK client name of this session */
    char client_name[ASIOJACK_NAME_LEN];

    /* How long the engine waited for the peer each cycle: bucket
     * wait_ns >> ASIOJACK_WAIT_BUCKET_SHIFT, the last bucket holding all
     * longer waits.  Engine-written, read by status and benchmarks. */
    uint32_t wait_histogram[ASIOJACK_WAIT_BUCKETS];

    /* ASIO 2.0 input monitoring, one entry per input channel: the engine
     * mixes the JACK input into output port `output` at `gain` (linear),
     * inside the cycle, whatever the host does.  Server-written; `output`
     * is written last, so a half-updated entry is at worst one cycle old. */
    struct asiojack_monitor {
        int32_t output;        /* -1 = off */
        float gain;            /* linear, 1.0 = unity */
        uint32_t reserved[2];
    } monitor[ASIOJACK_MAX_CHANNELS];

    /* Meters, engine-written every published cycle: the peak |sample| of
     * each active channel in that cycle (0 for inactive channels and for
     * outputs the engine played as silence), and how many cycles reached
     * full scale (|sample| >= 1.0), so a clip between two looks is not
     * lost.  Inputs are measured on the JACK side before conversion,
     * outputs as played to JACK.  Read by status and the control panel. */
    float in_peak[ASIOJACK_MAX_CHANNELS];
    float out_peak[ASIOJACK_MAX_CHANNELS];
    uint32_t in_clips[ASIOJACK_MAX_CHANNELS];
    uint32_t out_clips[ASIOJACK_MAX_CHANNELS];
};

/*
 * The segment's geometry, as the driver copied and checked it once when it
 * mapped the segment (asiojack_shm_layout in shm.h).  Every buffer address
 * the driver computes comes from this copy, never from the live identity
 * words: the segment is shared, and what was checked must stay what is used.
 * The unix library hands the same copy to the PE side (unixlib.h).
 */
struct asiojack_layout {
    uint64_t total_size;
    uint32_t audio_offset;
    uint32_t n_inputs;
    uint32_t n_outputs;
    uint32_t max_frames;
    uint32_t channel_stride;
    uint32_t sample_type;
    uint32_t bytes_per_sample;
    uint32_t reserved;
};

/* Byte offset of one input channel's buffer in one half. */
static inline uint64_t asiojack_in_offset(const struct asiojack_shm *s,
                                          uint32_t half, uint32_t ch)
{
    return (uint64_t)s->audio_offset +
           ((uint64_t)half * s->n_inputs + ch) * s->channel_stride;
}

/* Byte offset of one output channel's buffer in one half. */
static inline uint64_t asiojack_out_offset(const struct asiojack_shm *s,
                                           uint32_t half, uint32_t ch)
{
    return (uint64_t)s->audio_offset +
           ((uint64_t)2 * s->n_inputs + (uint64_t)half * s->n_outputs + ch) *
               s->channel_stride;
}

/* The same offsets from a checked copy of the geometry (the driver's side). */
static inline uint64_t asiojack_layout_in_offset(const struct asiojack_layout *l,
                                                 uint32_t half, uint32_t ch)
{
    return (uint64_t)l->audio_offset + ((uint64_t)half * l->n_inputs + ch) * l->channel_stride;
}

static inline uint64_t asiojack_layout_out_offset(const struct asiojack_layout *l,
                                                  uint32_t half, uint32_t ch)
{
    return (uint64_t)l->audio_offset +
           ((uint64_t)2 * l->n_inputs + (uint64_t)half * l->n_outputs + ch) * l->channel_stride;
}

/* ------------------------------------------------------------------------
 * Accessors for the shared words.  Two processes (and, on the server, two
 * threads) touch these words at once, so every access that orders anything
 * goes through one of these, never a plain load or store: the orderings
 * below are what the protocol relies on, on every architecture, not only
 * on x86.  The futex wakes that go with them are in futex.h (Linux only);
 * these are plain GCC atomics, so the MinGW-built PE side can use them too.
 * Python reaches the same functions through cffi.
 * ---------------------------------------------------------------------- */

/* Engine: make cycle `seq` visible (its input half and time info were
 * written before) and ring the doorbell.  The caller then wakes the
 * doorbell futex. */
static inline void asiojack_publish_cycle(struct asiojack_shm *s, uint32_t seq)
{
    __atomic_store_n(&s->ready_seq, seq, __ATOMIC_RELEASE);
    __atomic_fetch_add(&s->doorbell, 1, __ATOMIC_RELEASE);
}

/* Peer: the last cycle published (acquire: its half is readable after). */
static inline uint32_t asiojack_ready_seq(const struct asiojack_shm *s)
{
    return __atomic_load_n(&s->ready_seq, __ATOMIC_ACQUIRE);
}

/* Peer: the doorbell's value, read before the state it guards, so a ring
 * between the check and the futex wait makes the wait return at once. */
static inline uint32_t asiojack_doorbell(const struct asiojack_shm *s)
{
    return __atomic_load_n(&s->doorbell, __ATOMIC_ACQUIRE);
}

/*
 * The hand-off back, without a system call when none is needed: the engine
 * often polls done_seq for a few microseconds before it sleeps, and a
 * FUTEX_WAKE nobody waits for costs the peer a kernel entry every cycle.
 * So the engine raises engine_sleeping before it sleeps and the peer wakes
 * it only if it reads the flag raised.  Each side stores its word, then a
 * full fence, then loads the other's (asiojack_mark_done and
 * asiojack_engine_will_sleep): at least one of them sees the other's
 * store, so either the engine sees the cycle done and does not sleep, or
 * the peer sees the flag and wakes it.  A wake-up cannot be lost.
 */

/* Peer: cycle `seq` is finished, its output half written.  Returns whether
 * the engine may be asleep on done_seq: then the caller wakes that futex. */
static inline int asiojack_mark_done(struct asiojack_shm *s, uint32_t seq)
{
    __atomic_store_n(&s->done_seq, seq, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&s->engine_sleeping, __ATOMIC_RELAXED) != 0;
}

/* Engine: about to sleep on done_seq.  Returns done_seq as read after the
 * flag went up: if that is not yet the cycle waited for, the futex wait on
 * that value is safe (the peer will see the flag). */
static inline uint32_t asiojack_engine_will_sleep(struct asiojack_shm *s)
{
    __atomic_store_n(&s->engine_sleeping, 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&s->done_seq, __ATOMIC_ACQUIRE);
}

/* Engine: awake again (a wake-up the peer sends after this is harmless). */
static inline void asiojack_engine_awake(struct asiojack_shm *s)
{
    __atomic_store_n(&s->engine_sleeping, 0, __ATOMIC_RELAXED);
}

/* Engine: the last cycle the peer finished (acquire: its outputs are
 * readable after). */
static inline uint32_t asiojack_done_seq(const struct asiojack_shm *s)
{
    return __atomic_load_n(&s->done_seq, __ATOMIC_ACQUIRE);
}

/* Server: raise event bits and ring the doorbell; the caller wakes it. */
static inline void asiojack_raise_events(struct asiojack_shm *s, uint32_t bits)
{
    __atomic_fetch_or(&s->events, bits, __ATOMIC_RELEASE);
    __atomic_fetch_add(&s->doorbell, 1, __ATOMIC_RELEASE);
}

/* Peer: take every event bit raised since the last call (each seen once). */
static inline uint32_t asiojack_take_events(struct asiojack_shm *s)
{
    return __atomic_exchange_n(&s->events, 0, __ATOMIC_ACQ_REL);
}

/* Server: let the engine publish cycles (1) or stop it (0).  Release: the
 * active-channel table and buffer size written before are seen with it. */
static inline void asiojack_set_running(struct asiojack_shm *s, uint32_t running)
{
    __atomic_store_n(&s->running, running, __ATOMIC_RELEASE);
}

static inline uint32_t asiojack_is_running(const struct asiojack_shm *s)
{
    return __atomic_load_n(&s->running, __ATOMIC_ACQUIRE);
}

/* Server: a new start() begins (before asiojack_set_running(s, 1)).  The
 * engine compares the generation with the one it last ran under, so a
 * stop() and start() within one period still restart time at 0. */
static inline void asiojack_begin_start(struct asiojack_shm *s)
{
    __atomic_fetch_add(&s->start_generation, 1, __ATOMIC_RELEASE);
}

/* Engine: the generation of the current start(). */
static inline uint32_t asiojack_start_generation(const struct asiojack_shm *s)
{
    return __atomic_load_n(&s->start_generation, __ATOMIC_ACQUIRE);
}

/* Server: someone reads the meters (status, the control panel): measure
 * them in every cycle that starts before `until_ns` (CLOCK_MONOTONIC).
 * Nobody looking, they cost the cycle nothing. */
static inline void asiojack_want_meters(struct asiojack_shm *s, uint64_t until_ns)
{
    __atomic_store_n(&s->meters_until_ns, until_ns, __ATOMIC_RELAXED);
}

/* Engine: whether a cycle starting at `now_ns` measures the meters. */
static inline int asiojack_metering(const struct asiojack_shm *s, uint64_t now_ns)
{
    return now_ns < __atomic_load_n(&s->meters_until_ns, __ATOMIC_RELAXED);
}

/* Server: route input `ch` to output `output` at linear `gain`, or turn it
 * off (output -1).  The route is withdrawn first and published last, so the
 * engine never mixes a new route at an old gain. */
static inline void asiojack_set_monitor(struct asiojack_shm *s, uint32_t ch,
                                        int32_t output, float gain)
{
    __atomic_store_n(&s->monitor[ch].output, -1, __ATOMIC_RELEASE);
    if (output < 0)
        return;
    __atomic_store(&s->monitor[ch].gain, &gain, __ATOMIC_RELAXED);
    __atomic_store_n(&s->monitor[ch].output, output, __ATOMIC_RELEASE);
}

/* Engine: input `ch`'s monitor route (-1 = off) and its gain. */
static inline int32_t asiojack_monitor_route(const struct asiojack_shm *s, uint32_t ch,
                                             float *gain)
{
    int32_t output = __atomic_load_n(&s->monitor[ch].output, __ATOMIC_ACQUIRE);
    __atomic_load(&s->monitor[ch].gain, gain, __ATOMIC_RELAXED);
    return output;
}

/* A word the other side keeps current (rate, period, latencies, modes):
 * read it once, untorn. */
static inline uint32_t asiojack_load_u32(const uint32_t *word)
{
    return __atomic_load_n(word, __ATOMIC_RELAXED);
}

static inline int32_t asiojack_load_i32(const int32_t *word)
{
    return __atomic_load_n(word, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------
 * Control protocol.  Every message is a header followed by `size` bytes of
 * payload.  Each request gets exactly one reply (OK, ERROR or the request's
 * own reply type), and the server sends nothing else: events reach the
 * driver through the segment (asiojack_raise_events), never the socket.
 * HELLO and ERROR keep their layout across all protocol versions, so a
 * version mismatch can always be reported in words.
 * ---------------------------------------------------------------------- */

enum asiojack_msg_type {
    /* requests, driver -> server */
    ASIOJACK_MSG_HELLO = 1,
    ASIOJACK_MSG_OPEN = 2,
    ASIOJACK_MSG_CREATE_BUFFERS = 3,
    ASIOJACK_MSG_DISPOSE_BUFFERS = 4,
    ASIOJACK_MSG_START = 5,
    ASIOJACK_MSG_STOP = 6,
    ASIOJACK_MSG_CLOSE = 7,
    ASIOJACK_MSG_SET_MONITOR = 8,
    ASIOJACK_MSG_TRANSPORT = 9,
    ASIOJACK_MSG_STATUS = 10,   /* no payload; any client, after HELLO */
    /* replies, server -> driver */
    ASIOJACK_MSG_OK = 0x100,
    ASIOJACK_MSG_ERROR = 0x101,
    ASIOJACK_MSG_WELCOME = 0x102,
    ASIOJACK_MSG_OPENED = 0x103,
    ASIOJACK_MSG_REDIRECT = 0x104,  /* OPEN: ask that server instead */
    ASIOJACK_MSG_STATUS_REPLY = 0x105,
};

enum asiojack_error_code {
    ASIOJACK_ERR_VERSION = 1,     /* protocol versions differ */
    ASIOJACK_ERR_MALFORMED = 2,   /* message could not be decoded */
    ASIOJACK_ERR_STATE = 3,       /* request not valid in this state */
    ASIOJACK_ERR_INVALID = 4,     /* bad parameter */
    ASIOJACK_ERR_JACK = 5,        /* JACK refused or is gone */
    ASIOJACK_ERR_INTERNAL = 6,
};

struct asiojack_msg_header {
    uint32_t magic;  /* ASIOJACK_MSG_MAGIC */
    uint32_t type;   /* enum asiojack_msg_type */
    uint32_t size;   /* payload bytes that follow */
    uint32_t reserved;
};

struct asiojack_msg_hello {
    uint32_t protocol_version;
    uint32_t pid;
    uint32_t bits;              /* 32 or 64: the host process */
    uint32_t reserved;
    char exe_name[ASIOJACK_TEXT_LEN]; /* e.g. "REAPER.exe" */
};

struct asiojack_msg_welcome {
    uint32_t protocol_version;
    uint32_t server_pid;
    char server_version[32];    /* package version, for messages */
};

struct asiojack_msg_error {
    int32_t code;               /* enum asiojack_error_code */
    uint32_t server_protocol_version;
    char message[ASIOJACK_TEXT_LEN];
};

struct asiojack_msg_open {
    char client_name[ASIOJACK_NAME_LEN]; /* wished JACK client name; "" = from exe */
    uint32_t n_inputs;          /* 0 = the server's configured count */
    uint32_t n_outputs;
    /* The JACK server the program's environment names (JACK_DEFAULT_SERVER,
     * else "default"): the session's JACK client opens there, not on the
     * server named in the asiojack server's own environment.  "" = the
     * asiojack server's own default (protocol 2 behaviour). */
    char jack_server[ASIOJACK_NAME_LEN];
};

/*
 * The segment itself travels with this reply: a memfd, sealed against
 * growing and shrinking (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), passed
 * with SCM_RIGHTS on the header's bytes.  It has no name another user could
 * take first, and nobody can resize it under the JACK thread.  The driver
 * checks owner, seals and size before mapping it.
 */
struct asiojack_msg_opened {
    uint32_t session_id;
    uint32_t shm_size_lo;       /* total_size split so i386 agrees */
    uint32_t shm_size_hi;
    uint32_t reserved;
    char client_name[ASIOJACK_NAME_LEN];
};

/*
 * Reply to OPEN when the session's JACK server is not the one this server
 * process's libjack is bound to.  jack2's libjack keeps one set of server
 * globals per process, so one process cannot hold clients on two JACK
 * servers: the server starts (or finds) a sibling bound to jack_server and
 * names its socket, inside the same runtime directory.  The driver
 * connects there, says HELLO again and repeats its OPEN.
 */
struct asiojack_msg_redirect {
    char jack_server[ASIOJACK_NAME_LEN];
    char socket_path[ASIOJACK_TEXT_LEN];
};

struct asiojack_msg_create_buffers {
    uint32_t frames;            /* host buffer size; must equal JACK's */
    uint32_t reserved;
    uint8_t in_active[ASIOJACK_MAX_CHANNELS];
    uint8_t out_active[ASIOJACK_MAX_CHANNELS];
};

struct asiojack_msg_set_monitor {
    int32_t input;              /* channel, or -1 for every input */
    int32_t output;             /* output channel the input goes to */
    int32_t gain;               /* ASIO units, ASIOJACK_MONITOR_UNITY = 0 dB */
    int32_t pan;                /* ASIO units, kept for the record */
    uint32_t on;                /* 0 = stop monitoring that input */
    uint32_t reserved;
};

struct asiojack_msg_transport {
    uint32_t command;           /* enum asiojack_transport_command */
    uint32_t reserved;
    uint32_t frame_lo;          /* LOCATE target, split so i386 agrees */
    uint32_t frame_hi;
};

/*
 * STATUS_REPLY: this header, then `json_size` bytes of UTF-8 JSON (no NUL)
 * describing the server, JACK and every session; its keys are those of
 * ASIOJACK_STATUS_VERSION, documented in pyjack_side/status.py.  A reply
 * is not bound by ASIOJACK_MAX_MESSAGE (that limits what peers send).
 * JSON rather than structs because it is read by people and scripts
 * (`asiojack status --json`), never by the real-time path, and grows
 * with the number of programs and channels.
 */
#define ASIOJACK_STATUS_VERSION 1
struct asiojack_msg_status_reply {
    uint32_t status_version;    /* ASIOJACK_STATUS_VERSION */
    uint32_t json_size;
};

/* ------------------------------------------------------------------------
 * Layout pins: the same numbers on i386 and x86_64.
 * ---------------------------------------------------------------------- */
#define ASIOJACK_ASSERT_OFFSET(type, field, off)                               \
    _Static_assert(offsetof(struct type, field) == (off),                      \
                   #type "." #field " moved")

_Static_assert(sizeof(struct asiojack_time) == 64, "asiojack_time size");
ASIOJACK_ASSERT_OFFSET(asiojack_shm, doorbell, 64);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, engine_sleeping, 76);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, engine_sleeps, 80);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, spin_caught, 88);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, spin_missed, 96);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, done_seq, 128);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, late, 136);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, peer_cpu, 152);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, running, 192);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, meters_until_ns, 240);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, driver_cpu, 248);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, cycles, 256);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, stalls, 304);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, time, 320);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, in_active, 448);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, in_names, 704);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, client_name, 704 + 2 * 128 * 64);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, wait_histogram, 704 + 2 * 128 * 64 + 64);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, monitor, 704 + 2 * 128 * 64 + 64 + 4096);
_Static_assert(sizeof(struct asiojack_monitor) == 16, "monitor entry size");
ASIOJACK_ASSERT_OFFSET(asiojack_shm, in_peak, 704 + 2 * 128 * 64 + 64 + 4096 + 2048);
ASIOJACK_ASSERT_OFFSET(asiojack_shm, out_clips,
                       704 + 2 * 128 * 64 + 64 + 4096 + 2048 + 3 * 512);
_Static_assert(sizeof(struct asiojack_shm) == 704 + 2 * 128 * 64 + 64 + 4096 + 2048 + 2048,
               "asiojack_shm size");
_Static_assert(sizeof(struct asiojack_shm) % ASIOJACK_CACHE_LINE == 0,
               "audio buffers must start cache-line aligned");
_Static_assert(sizeof(struct asiojack_msg_header) == 16, "header size");
_Static_assert(sizeof(struct asiojack_msg_hello) == 272, "hello size");
_Static_assert(sizeof(struct asiojack_msg_welcome) == 40, "welcome size");
_Static_assert(sizeof(struct asiojack_msg_error) == 264, "error size");
_Static_assert(sizeof(struct asiojack_msg_open) == 136, "open size");
_Static_assert(sizeof(struct asiojack_msg_opened) == 80, "opened size");
_Static_assert(sizeof(struct asiojack_msg_redirect) == 320, "redirect size");
_Static_assert(sizeof(struct asiojack_layout) == 40, "layout size");
_Static_assert(sizeof(struct asiojack_msg_create_buffers) == 264,
               "create_buffers size");
_Static_assert(sizeof(struct asiojack_msg_set_monitor) == 24, "set_monitor size");
_Static_assert(sizeof(struct asiojack_msg_transport) == 16, "transport size");
_Static_assert(sizeof(struct asiojack_msg_status_reply) == 8, "status reply size");

#endif /* ASIOJACK_ABI_H */
