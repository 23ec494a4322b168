/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.h: the driver's side of the contract, in plain Linux C.  The Wine
 * unix library and the Linux test peer both use it, so the tests of the
 * Linux half exercise the very code the driver runs.
 *
 * Control calls (connect, open, create_buffers, start, stop, ...) block on
 * the socket and belong to the host's control thread.  wait/done are the
 * audio path: futex waits and wakes on the shared segment only.
 */
#ifndef ASIOJACK_CLIENT_H
#define ASIOJACK_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "asiojack_abi.h"

/* Results of the control calls: 0 or one of these. */
enum asiojack_client_status {
    ASIOJACK_CLIENT_OK = 0,
    ASIOJACK_CLIENT_NO_SERVER = -1,  /* nobody answers, none could be started */
    ASIOJACK_CLIENT_VERSION = -2,    /* server speaks another protocol version */
    ASIOJACK_CLIENT_PROTOCOL = -3,   /* broken reply, lost connection */
    ASIOJACK_CLIENT_REFUSED = -4,    /* server answered with an error */
    ASIOJACK_CLIENT_SHM = -5,        /* segment could not be mapped or is bad */
    ASIOJACK_CLIENT_UNSAFE = -6,     /* runtime dir or server not this user's own */
};

struct asiojack_client {
    int fd;
    struct asiojack_shm *shm;
    uint64_t shm_size;
    int shm_fd;                  /* the segment's memfd, kept open while mapped */
    struct asiojack_layout layout; /* the segment's geometry, copied and
                                      checked once at open: buffer addresses
                                      come from here, never from the segment */
    uint32_t last_seq;           /* last cycle handed to the host */
    uint64_t done_wakes;         /* FUTEX_WAKEs sent to the engine (counted
                                    for tests and benchmarks) */
    uint32_t server_protocol;    /* from WELCOME, or from a version ERROR */
    uint32_t session_id;
    char client_name[ASIOJACK_NAME_LEN];
    char server_version[32];
    uint32_t bits;               /* from connect: said again after a redirect */
    uint32_t map_below_4g;       /* set between connect and open: the segment
                                    goes below 4 GiB, for a 32-bit program in
                                    a 64-bit process (new-style WoW64) */
    char exe_name[ASIOJACK_TEXT_LEN];
    char error[ASIOJACK_TEXT_LEN]; /* last failure, in words */
};

/* Where the server listens: $ASIOJACK_RUNTIME_DIR, else
 * $XDG_RUNTIME_DIR/asiojack, else /tmp/asiojack-<uid>; file control.sock. */
int asiojack_socket_path(char *buf, size_t size);

/*
 * Open `name` (e.g. "settings.log") for appending in the runtime directory,
 * created if missing and checked as for connecting: never through a
 * symlink, and only a plain file of this user's with one link.  Returns
 * the descriptor (close-on-exec), or -1 with `error` saying why.
 */
int asiojack_open_runtime_log(const char *name, char *error, size_t error_size);

/*
 * Connect and say hello.  With `autostart`, a server that does not answer
 * is started (asiojack serve) and waited for.
 *
 * Nothing of this user's goes to a server another user runs: the runtime
 * directory must be a real directory (not a symlink) owned by this user
 * with mode 0700, and the process at the other end of the socket must be
 * this user's (SO_PEERCRED); else ASIOJACK_CLIENT_UNSAFE, in words.
 */
int asiojack_client_connect(struct asiojack_client *c, const char *exe_name,
                            uint32_t bits, int autostart);

/* Open the session (one JACK client) and map its segment. 0 = defaults. */
int asiojack_client_open(struct asiojack_client *c, const char *client_name,
                         uint32_t n_inputs, uint32_t n_outputs);

int asiojack_client_create_buffers(struct asiojack_client *c, uint32_t frames,
                                   const uint8_t *in_active,
                                   const uint8_t *out_active);
int asiojack_client_dispose_buffers(struct asiojack_client *c);
int asiojack_client_start(struct asiojack_client *c);
int asiojack_client_stop(struct asiojack_client *c);

/* ASIO input monitoring: mix JACK input `input` (-1 = all) into output
 * `output` at `gain` (ASIO units, ASIOJACK_MONITOR_UNITY = 0 dB), or stop
 * it (on = 0).  The server refuses channels that do not exist. */
int asiojack_client_set_monitor(struct asiojack_client *c, int32_t input,
                                int32_t output, int32_t gain, int32_t pan,
                                uint32_t on);

/* Start, stop or locate JACK's transport (enum asiojack_transport_command;
 * `frame` only for LOCATE). */
int asiojack_client_transport(struct asiojack_client *c, uint32_t command,
                              uint64_t frame);

/* Close the session and the connection; safe on a half-open client. */
void asiojack_client_close(struct asiojack_client *c);

/* Whether the server's end of the control socket is still open.  Reads
 * nothing (a reply belongs to whoever sent the request): it only polls for
 * the hang-up a dead server leaves.  Any thread. */
int asiojack_client_server_alive(const struct asiojack_client *c);

/* Host buffer of a channel in a half, inside the shared segment. */
void *asiojack_client_in_buffer(struct asiojack_client *c, uint32_t half,
                                uint32_t ch);
void *asiojack_client_out_buffer(struct asiojack_client *c, uint32_t half,
                                 uint32_t ch);

/*
 * Audio path.  Wait for the next cycle for at most timeout_ms.  Returns 1
 * with *seq set when a cycle is ready, 0 on timeout; *events receives the
 * event bits raised since the last call (taken, so each is seen once).
 */
int asiojack_client_wait(struct asiojack_client *c, uint32_t *seq,
                         uint32_t *events, int timeout_ms);

/* Report cycle `seq` finished: its output half is filled. */
void asiojack_client_done(struct asiojack_client *c, uint32_t seq);

#endif /* ASIOJACK_CLIENT_H */
