/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* client.c: the driver's side of the control protocol and the cycle wait. */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "autostart.h"
#include "futex.h"
#include "shm.h"
#include "text.h"

/* How long a control reply may take: opening a JACK client can be slow. */
#define REPLY_TIMEOUT_MS 10000
/* How long an auto-started server may take to listen. */
#define START_TIMEOUT_MS 10000

static int fail(struct asiojack_client *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
    return status;
}

static int runtime_dir(char *buf, size_t size)
{
    const char *dir = getenv("ASIOJACK_RUNTIME_DIR");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (dir && *dir)
        n = snprintf(buf, size, "%s", dir);
    else if (xdg && *xdg)
        n = snprintf(buf, size, "%s/asiojack", xdg);
    else
        n = snprintf(buf, size, "/tmp/asiojack-%u", (unsigned)getuid());
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

int asiojack_socket_path(char *buf, size_t size)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (runtime_dir(dir, sizeof(dir)) < 0)
        return -1;
    int n = snprintf(buf, size, "%s/control.sock", dir);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

static int try_connect(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    asiojack_copy_text(addr.sun_path, sizeof(addr.sun_path), path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read or write exactly n bytes, giving up after timeout_ms of silence. */
static int io_all(int fd, void *buf, size_t n, int writing, int timeout_ms)
{
    uint8_t *p = buf;
    while (n) {
        struct pollfd pfd = {.fd = fd, .events = writing ? POLLOUT : POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t k = writing ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int send_msg(struct asiojack_client *c, uint32_t type, const void *payload,
                    uint32_t size)
{
    struct asiojack_msg_header h = {ASIOJACK_MSG_MAGIC, type, size, 0};
    if (c->fd < 0)
        return fail(c, ASIOJACK_CLIENT_PROTOCOL, "not connected to the asiojack server");
    if (io_all(c->fd, &h, sizeof(h), 1, REPLY_TIMEOUT_MS) < 0 ||
        (size && io_all(c->fd, (void *)payload, size, 1, REPLY_TIMEOUT_MS) < 0))
        return fail(c, ASIOJACK_CLIENT_PROTOCOL, "lost the connection to the asiojack server");
    return 0;
}

/*
 * Read the reply to a request.  An ERROR reply fills c->error and returns
 * REFUSED (or VERSION).  The server sends nothing but replies: events
 * travel through the segment's event word, never the socket.
 */
static int read_reply_either(struct asiojack_client *c, uint32_t want_type,
                             uint32_t alt_type, uint32_t *got_type, void *out,
                             uint32_t out_size)
{
    struct asiojack_msg_header h;
    union {
        struct asiojack_msg_error error;
        uint8_t bytes[ASIOJACK_MAX_MESSAGE];
    } body;

    if (io_all(c->fd, &h, sizeof(h), 0, REPLY_TIMEOUT_MS) < 0)
        return fail(c, ASIOJACK_CLIENT_PROTOCOL,
                    "the asiojack server closed the connection or did not answer");
    if (h.magic != ASIOJACK_MSG_MAGIC || h.size > sizeof(body))
        return fail(c, ASIOJACK_CLIENT_PROTOCOL,
                    "the asiojack server sent a message this driver cannot read");
    memset(&body, 0, sizeof(body));
    if (h.size && io_all(c->fd, &body, h.size, 0, REPLY_TIMEOUT_MS) < 0)
        return fail(c, ASIOJACK_CLIENT_PROTOCOL, "the asiojack server stopped mid-message");

    if (h.type == ASIOJACK_MSG_ERROR) {
        body.error.message[sizeof(body.error.message) - 1] = 0;
        asiojack_copy_text(c->error, sizeof(c->error), body.error.message);
        if (body.error.code == ASIOJACK_ERR_VERSION) {
            c->server_protocol = body.error.server_protocol_version;
            return ASIOJACK_CLIENT_VERSION;
        }
        return ASIOJACK_CLIENT_REFUSED;
    }
    if (h.type != want_type && (!alt_type || h.type != alt_type))
        return fail(c, ASIOJACK_CLIENT_PROTOCOL,
                    "the asiojack server answered with message type %u, expected %u",
                    h.type, want_type);
    if (got_type)
        *got_type = h.type;
    if (out)
        memcpy(out, &body, h.size < out_size ? h.size : out_size);
    return 0;
}

static int read_reply(struct asiojack_client *c, uint32_t want_type, void *out,
                      uint32_t out_size)
{
    return read_reply_either(c, want_type, 0, NULL, out, out_size);
}

static int request(struct asiojack_client *c, uint32_t type, const void *payload,
                   uint32_t size)
{
    int r = send_msg(c, type, payload, size);
    return r ? r : read_reply(c, ASIOJACK_MSG_OK, NULL, 0);
}

static int say_hello(struct asiojack_client *c);

int asiojack_client_connect(struct asiojack_client *c, const char *exe_name,
                            uint32_t bits, int autostart)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    if (asiojack_socket_path(path, sizeof(path)) < 0)
        return fail(c, ASIOJACK_CLIENT_NO_SERVER, "the asiojack runtime directory path is too long");

    c->fd = try_connect(path);
    if (c->fd < 0 && autostart) {
        char dir[sizeof(path)], log[sizeof(path) + 16];
        runtime_dir(dir, sizeof(dir));
        mkdir(dir, 0700);
        snprintf(log, sizeof(log), "%s/server.log", dir);
        pid_t server = asiojack_spawn_server(log, path);
        if (server >= 0) {
            uint64_t give_up = asiojack_now_ns() + START_TIMEOUT_MS * 1000000ull;
            while (c->fd < 0 && asiojack_now_ns() < give_up) {
                usleep(20000);
                c->fd = try_connect(path);
                /* A server that died (another one won the race, or it
                 * cannot run) leaves one last chance to connect. */
                if (c->fd < 0 && server > 0 && !asiojack_process_alive(server)) {
                    c->fd = try_connect(path);
                    break;
                }
            }
        }
        if (c->fd < 0)
            return fail(c, ASIOJACK_CLIENT_NO_SERVER,
                        "asiojack server not running on %s and could not be started "
                        "(see %s; in a container: `asiojack install-service` outside it)",
                        path, log);
    }
    if (c->fd < 0)
        return fail(c, ASIOJACK_CLIENT_NO_SERVER,
                    "asiojack server not running (nothing listens on %s)", path);
    c->bits = bits;
    asiojack_copy_text(c->exe_name, sizeof(c->exe_name), exe_name);
    return say_hello(c);
}

/* HELLO on a fresh connection; on failure the connection is closed. */
static int say_hello(struct asiojack_client *c)
{
    struct asiojack_msg_hello hello;
    struct asiojack_msg_welcome welcome;

    memset(&hello, 0, sizeof(hello));
    hello.protocol_version = ASIOJACK_PROTOCOL_VERSION;
    hello.pid = (uint32_t)getpid();
    hello.bits = c->bits;
    asiojack_copy_text(hello.exe_name, sizeof(hello.exe_name), c->exe_name);
    int r = send_msg(c, ASIOJACK_MSG_HELLO, &hello, sizeof(hello));
    if (!r)
        r = read_reply(c, ASIOJACK_MSG_WELCOME, &welcome, sizeof(welcome));
    if (r == ASIOJACK_CLIENT_VERSION) {
        const char *update = c->server_protocol > ASIOJACK_PROTOCOL_VERSION ?
            "update the asiojack driver (asiojack register)" :
            "update the asiojack server (pip install -U asiojack)";
        fail(c, r, "asiojack server protocol %u, driver protocol %u: %s",
             c->server_protocol, ASIOJACK_PROTOCOL_VERSION, update);
    }
    if (r) {
        close(c->fd);
        c->fd = -1;
        return r;
    }
    c->server_protocol = welcome.protocol_version;
    asiojack_copy_text(c->server_version, sizeof(c->server_version), welcome.server_version);
    return 0;
}

/*
 * The server named a sibling for our JACK server: leave this connection
 * and say hello there.  The path comes from another process, so it must
 * be a terminated path inside our own runtime directory.
 */
static int follow_redirect(struct asiojack_client *c, struct asiojack_msg_redirect *to)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t n;

    to->socket_path[sizeof(to->socket_path) - 1] = 0;
    to->jack_server[sizeof(to->jack_server) - 1] = 0;
    if (runtime_dir(dir, sizeof(dir)) < 0)
        return fail(c, ASIOJACK_CLIENT_PROTOCOL, "the asiojack runtime directory path is too long");
    n = strlen(dir);
    if (strncmp(to->socket_path, dir, n) != 0 || to->socket_path[n] != '/' ||
        strstr(to->socket_path + n, "/..") ||
        strlen(to->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return fail(c, ASIOJACK_CLIENT_PROTOCOL,
                    "the asiojack server redirected to %.100s, outside %.100s",
                    to->socket_path, dir);
    close(c->fd);
    c->fd = try_connect(to->socket_path);
    if (c->fd < 0)
        return fail(c, ASIOJACK_CLIENT_NO_SERVER,
                    "the asiojack server for JACK server '%s' does not answer on %.150s",
                    to->jack_server, to->socket_path);
    return say_hello(c);
}

/*
 * Map the session's segment.  The host's buffer pointers point into it, so
 * for a 32-bit program running in a 64-bit process (Wine 9+ new-style
 * WoW64: a 32-bit PE over this 64-bit library) every byte of it must lie
 * below 4 GiB.  MAP_32BIT (x86_64) gives the low 2 GiB; failing that, a
 * free place is looked for in the 2-4 GiB range with MAP_FIXED_NOREPLACE,
 * which never replaces a mapping that is there (Wine's own views of the
 * 32-bit address space included).
 */
static void *map_segment(struct asiojack_client *c, int fd, size_t size)
{
    const int prot = PROT_READ | PROT_WRITE;
    /* MAP_POPULATE: the callback thread touches every page each cycle and
     * must not fault on them there. */
    const int shared = MAP_SHARED | MAP_POPULATE;
    void *p;

    if (!c->map_below_4g || sizeof(void *) == 4)
        return mmap(NULL, size, prot, shared, fd, 0);
#if defined(__x86_64__) && defined(MAP_32BIT)
    p = mmap(NULL, size, prot, shared | MAP_32BIT, fd, 0);
    if (p != MAP_FAILED)
        return p;
#endif
#ifdef MAP_FIXED_NOREPLACE
    for (uint64_t hint = 0x80000000u; hint + size <= 0x100000000u; hint += 0x4000000u) {
        p = mmap((void *)(uintptr_t)hint, size, prot, shared | MAP_FIXED_NOREPLACE, fd, 0);
        if (p == (void *)(uintptr_t)hint)
            return p;
        if (p != MAP_FAILED)
            munmap(p, size); /* a kernel before 4.17 took the flag as a mere hint */
    }
#endif
    errno = ENOMEM;
    return MAP_FAILED;
}

int asiojack_client_open(struct asiojack_client *c, const char *client_name,
                         uint32_t n_inputs, uint32_t n_outputs)
{
    struct asiojack_msg_open open_msg;
    struct asiojack_msg_opened opened;
    struct stat st;

    memset(&open_msg, 0, sizeof(open_msg));
    asiojack_copy_text(open_msg.client_name, sizeof(open_msg.client_name), client_name);
    /* The program's JACK server, as libjack would pick it in this process:
     * the asiojack server may have been started for another program, with
     * another environment, and must open this session where this one
     * expects it. */
    const char *jack_server = getenv("JACK_DEFAULT_SERVER");
    if (!jack_server || !*jack_server)
        jack_server = "default";
    if (strlen(jack_server) >= sizeof(open_msg.jack_server))
        return fail(c, ASIOJACK_CLIENT_REFUSED,
                    "JACK_DEFAULT_SERVER is longer than %zu bytes: asiojack cannot name it",
                    sizeof(open_msg.jack_server) - 1);
    asiojack_copy_text(open_msg.jack_server, sizeof(open_msg.jack_server), jack_server);
    open_msg.n_inputs = n_inputs;
    open_msg.n_outputs = n_outputs;
    int r = send_msg(c, ASIOJACK_MSG_OPEN, &open_msg, sizeof(open_msg));
    uint32_t got = 0;
    union {
        struct asiojack_msg_opened opened;
        struct asiojack_msg_redirect redirect;
    } reply;
    memset(&reply, 0, sizeof(reply));
    if (!r)
        r = read_reply_either(c, ASIOJACK_MSG_OPENED, ASIOJACK_MSG_REDIRECT, &got, &reply,
                              sizeof(reply));
    if (!r && got == ASIOJACK_MSG_REDIRECT) {
        /* Once only: the sibling is bound to this JACK server and never
         * redirects a session for it. */
        r = follow_redirect(c, &reply.redirect);
        if (!r)
            r = send_msg(c, ASIOJACK_MSG_OPEN, &open_msg, sizeof(open_msg));
        if (!r)
            r = read_reply(c, ASIOJACK_MSG_OPENED, &reply, sizeof(reply));
    }
    if (r)
        return r;
    opened = reply.opened;

    opened.shm_name[sizeof(opened.shm_name) - 1] = 0;
    uint64_t size = (uint64_t)opened.shm_size_lo | ((uint64_t)opened.shm_size_hi << 32);
    int fd = shm_open(opened.shm_name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return fail(c, ASIOJACK_CLIENT_SHM, "cannot open shared memory %s: %s",
                    opened.shm_name, strerror(errno));
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < size || size > SIZE_MAX) {
        close(fd);
        return fail(c, ASIOJACK_CLIENT_SHM, "shared memory %s has the wrong size",
                    opened.shm_name);
    }
    void *base = map_segment(c, fd, (size_t)size);
    close(fd);
    if (base == MAP_FAILED)
        return fail(c, ASIOJACK_CLIENT_SHM, "cannot map shared memory %s%s: %s",
                    opened.shm_name,
                    c->map_below_4g ? " below 4 GiB for a 32-bit program" : "",
                    strerror(errno));
    if (c->map_below_4g && (uint64_t)(uintptr_t)base + size > 0x100000000u) {
        munmap(base, (size_t)size);
        return fail(c, ASIOJACK_CLIENT_SHM,
                    "shared memory %s landed above 4 GiB: a 32-bit program cannot use it",
                    opened.shm_name);
    }
    /* Locked too where RLIMIT_MEMLOCK allows; populated is what is left
     * otherwise (the server locks its own mapping and logs a refusal). */
    (void)mlock(base, (size_t)size);
    const char *bad = asiojack_shm_check(base, size);
    if (bad) {
        munmap(base, (size_t)size);
        return fail(c, ASIOJACK_CLIENT_SHM, "%s", bad);
    }
    c->shm = base;
    c->shm_size = size;
    c->session_id = opened.session_id;
    asiojack_copy_text(c->client_name, sizeof(c->client_name), opened.client_name);
    asiojack_copy_text(c->shm_name, sizeof(c->shm_name), opened.shm_name);
    return 0;
}

int asiojack_client_create_buffers(struct asiojack_client *c, uint32_t frames,
                                   const uint8_t *in_active,
                                   const uint8_t *out_active)
{
    struct asiojack_msg_create_buffers m;
    memset(&m, 0, sizeof(m));
    m.frames = frames;
    memcpy(m.in_active, in_active, sizeof(m.in_active));
    memcpy(m.out_active, out_active, sizeof(m.out_active));
    return request(c, ASIOJACK_MSG_CREATE_BUFFERS, &m, sizeof(m));
}

int asiojack_client_dispose_buffers(struct asiojack_client *c)
{
    return request(c, ASIOJACK_MSG_DISPOSE_BUFFERS, NULL, 0);
}

int asiojack_client_start(struct asiojack_client *c)
{
    if (c->shm) {
        /* Cycles published before start are not ours to answer.  done_seq
         * is left alone: the engine waits for its own next cycle only, and
         * marking an old one done could let it play a half never written. */
        c->last_seq = asiojack_ready_seq(c->shm);
    }
    return request(c, ASIOJACK_MSG_START, NULL, 0);
}

int asiojack_client_stop(struct asiojack_client *c)
{
    return request(c, ASIOJACK_MSG_STOP, NULL, 0);
}

int asiojack_client_set_monitor(struct asiojack_client *c, int32_t input,
                                int32_t output, int32_t gain, int32_t pan,
                                uint32_t on)
{
    struct asiojack_msg_set_monitor m;
    memset(&m, 0, sizeof(m));
    m.input = input;
    m.output = output;
    m.gain = gain;
    m.pan = pan;
    m.on = on;
    return request(c, ASIOJACK_MSG_SET_MONITOR, &m, sizeof(m));
}

int asiojack_client_transport(struct asiojack_client *c, uint32_t command,
                              uint64_t frame)
{
    struct asiojack_msg_transport m;
    memset(&m, 0, sizeof(m));
    m.command = command;
    /* Split so that an i386 server reads the same bytes. */
    m.frame_lo = (uint32_t)frame;
    m.frame_hi = (uint32_t)(frame >> 32);
    return request(c, ASIOJACK_MSG_TRANSPORT, &m, sizeof(m));
}

void asiojack_client_close(struct asiojack_client *c)
{
    if (c->fd >= 0) {
        if (c->shm)
            request(c, ASIOJACK_MSG_CLOSE, NULL, 0);
        close(c->fd);
        c->fd = -1;
    }
    if (c->shm) {
        munmap(c->shm, (size_t)c->shm_size);
        c->shm = NULL;
    }
}

int asiojack_client_server_alive(const struct asiojack_client *c)
{
    if (c->fd < 0)
        return 0;
    /* A unix stream socket whose peer is closed polls as hung up (both
     * directions shut): a dead server.  POLLIN alone is a reply in flight,
     * and is left for the thread that asked. */
    struct pollfd pfd = {.fd = c->fd, .events = 0};
#ifdef POLLRDHUP
    pfd.events |= POLLRDHUP;
#endif
    if (poll(&pfd, 1, 0) <= 0)
        return 1;
    return !(pfd.revents & (POLLHUP | POLLERR | POLLNVAL));
}

void *asiojack_client_in_buffer(struct asiojack_client *c, uint32_t half,
                                uint32_t ch)
{
    if (!c->shm || half > 1 || ch >= c->shm->n_inputs)
        return NULL;
    return (uint8_t *)c->shm + asiojack_in_offset(c->shm, half, ch);
}

void *asiojack_client_out_buffer(struct asiojack_client *c, uint32_t half,
                                 uint32_t ch)
{
    if (!c->shm || half > 1 || ch >= c->shm->n_outputs)
        return NULL;
    return (uint8_t *)c->shm + asiojack_out_offset(c->shm, half, ch);
}

int asiojack_client_wait(struct asiojack_client *c, uint32_t *seq,
                         uint32_t *events, int timeout_ms)
{
    struct asiojack_shm *s = c->shm;
    struct timespec deadline =
        asiojack_ns_to_timespec(asiojack_now_ns() + (uint64_t)timeout_ms * 1000000u);
    *events = 0;
    for (;;) {
        /* Read the doorbell before the state it guards, so a ring between
         * the check and the wait makes the wait return at once. */
        uint32_t bell = asiojack_doorbell(s);
        *events |= asiojack_take_events(s);
        uint32_t ready = asiojack_ready_seq(s);
        if (ready != c->last_seq) {
            c->last_seq = ready;
            *seq = ready;
            return 1;
        }
        if (*events)
            return 0;
        if (asiojack_futex_wait(&s->doorbell, bell, &deadline) == ETIMEDOUT)
            return 0;
    }
}

void asiojack_client_done(struct asiojack_client *c, uint32_t seq)
{
    struct asiojack_shm *s = c->shm;
    const struct asiojack_time *t = &s->time[seq & 1];
    uint64_t period_ns = t->sample_rate ?
        (uint64_t)t->frames * 1000000000u / t->sample_rate : 0;
    uint64_t deadline_ns = t->system_time_ns + period_ns * s->deadline_permille / 1000u;

    asiojack_mark_done(s, seq);
    asiojack_futex_wake(&s->done_seq);
    /* Too late if the engine has moved on or its deadline has passed: that
     * half was played as silence and this completion is discarded. */
    if (asiojack_ready_seq(s) != seq ||
        asiojack_now_ns() > deadline_ns)
        __atomic_fetch_add(&s->late, 1, __ATOMIC_RELAXED);
}
