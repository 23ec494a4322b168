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
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "autostart.h"
#include "futex.h"
#include "shm.h"
#include "text.h"

/* How long a control reply may take: opening a JACK client can be slow.
 * (A test build makes it short, to show what a late reply does.) */
#ifndef ASIOJACK_REPLY_TIMEOUT_MS
#define ASIOJACK_REPLY_TIMEOUT_MS 10000
#endif
#define REPLY_TIMEOUT_MS ASIOJACK_REPLY_TIMEOUT_MS
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

/*
 * Whether `dir` is private: a real directory (lstat: a symlink is refused,
 * never followed), owned by us, no access for group or others.  Returns 0,
 * or a status with c->error saying what is wrong.  pyjack_side/paths.py
 * (check_private_dir) applies the same rule on the server's side.
 */
static int check_private_dir(struct asiojack_client *c, const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) < 0)
        return fail(c, ASIOJACK_CLIENT_NO_SERVER, "asiojack server not running (no %s: %s)",
                    dir, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return fail(c, ASIOJACK_CLIENT_UNSAFE,
                    "unsafe asiojack runtime directory: %s is a symbolic link; remove it "
                    "(or set XDG_RUNTIME_DIR to a private directory)", dir);
    if (!S_ISDIR(st.st_mode))
        return fail(c, ASIOJACK_CLIENT_UNSAFE,
                    "unsafe asiojack runtime directory: %s is not a directory", dir);
    if (st.st_uid != getuid())
        return fail(c, ASIOJACK_CLIENT_UNSAFE,
                    "unsafe asiojack runtime directory: %s belongs to uid %u, not to you "
                    "(uid %u): another user may be posing as the asiojack server; remove it "
                    "(or set XDG_RUNTIME_DIR to a private directory)",
                    dir, (unsigned)st.st_uid, (unsigned)getuid());
    if (st.st_mode & 077)
        return fail(c, ASIOJACK_CLIENT_UNSAFE,
                    "unsafe asiojack runtime directory: %s is open to other users (mode %04o, "
                    "not 0700)", dir, (unsigned)(st.st_mode & 07777));
    return 0;
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

/* The server must be this user's: checked before a byte is sent, since
 * HELLO already tells the program's name and pid. */
static int check_server_uid(struct asiojack_client *c, const char *path)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
        return fail(c, ASIOJACK_CLIENT_UNSAFE, "cannot tell who listens on %s: %s", path,
                    strerror(errno));
    if (cred.uid != getuid())
        return fail(c, ASIOJACK_CLIENT_UNSAFE,
                    "refusing the asiojack server on %s: it runs as uid %u (pid %d), not as "
                    "you (uid %u)", path, (unsigned)cred.uid, (int)cred.pid, (unsigned)getuid());
    return 0;
}

/* A failed or timed-out exchange leaves the stream at an unknown point (a
 * late reply would be taken for the next request's): nothing more is read
 * from or sent on this connection. */
static int drop_connection(struct asiojack_client *c, int status)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    return status;
}

/* Keep a descriptor the server passed (SCM_RIGHTS) for the reply being
 * read; a second one, or any beyond, is closed. */
static void take_passed_fds(struct msghdr *msg, int *passed)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(cm);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof(int), sizeof(fd));
            if (passed && *passed < 0)
                *passed = fd;
            else
                close(fd);
        }
    }
}

/* Read or write exactly n bytes, giving up after timeout_ms of silence.
 * A descriptor passed with the bytes read lands in *passed (if not NULL
 * and still -1), any other is closed: the kernel would otherwise drop it
 * silently, or leave it open in this process. */
static int io_all(int fd, void *buf, size_t n, int writing, int timeout_ms, int *passed)
{
    uint8_t *p = buf;
    while (n) {
        struct pollfd pfd = {.fd = fd, .events = writing ? POLLOUT : POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t k;
        if (writing) {
            k = send(fd, p, n, MSG_NOSIGNAL);
        } else {
            union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(4 * sizeof(int))];
            } control;
            struct iovec iov = {.iov_base = p, .iov_len = n};
            struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                                 .msg_control = control.buf,
                                 .msg_controllen = sizeof(control.buf)};
            k = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
            if (k >= 0)
                take_passed_fds(&msg, passed);
        }
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
    if (io_all(c->fd, &h, sizeof(h), 1, REPLY_TIMEOUT_MS, NULL) < 0 ||
        (size && io_all(c->fd, (void *)payload, size, 1, REPLY_TIMEOUT_MS, NULL) < 0))
        return drop_connection(c, fail(c, ASIOJACK_CLIENT_PROTOCOL,
                                       "lost the connection to the asiojack server"));
    return 0;
}

/*
 * Read the reply to a request.  An ERROR reply fills c->error and returns
 * REFUSED (or VERSION).  The server sends nothing but replies: events
 * travel through the segment's event word, never the socket.  With
 * `passed`, a descriptor sent with the reply is returned there (-1 if
 * none); otherwise any is closed.  A broken or late reply ends the
 * connection (drop_connection).
 */
static int read_reply_either(struct asiojack_client *c, uint32_t want_type,
                             uint32_t alt_type, uint32_t *got_type, void *out,
                             uint32_t out_size, int *passed)
{
    struct asiojack_msg_header h;
    union {
        struct asiojack_msg_error error;
        uint8_t bytes[ASIOJACK_MAX_MESSAGE];
    } body;
    int fd = -1;

    if (passed)
        *passed = -1;
    if (c->fd < 0)
        return fail(c, ASIOJACK_CLIENT_PROTOCOL, "not connected to the asiojack server");
    if (io_all(c->fd, &h, sizeof(h), 0, REPLY_TIMEOUT_MS, &fd) < 0) {
        if (fd >= 0)
            close(fd);
        return drop_connection(c, fail(c, ASIOJACK_CLIENT_PROTOCOL,
                    "the asiojack server closed the connection or did not answer"));
    }
    /* Only the reply asked for may carry a descriptor, and only if the
     * caller wants one. */
    if (fd >= 0 && (!passed || h.type != want_type)) {
        close(fd);
        fd = -1;
    }
    if (h.magic != ASIOJACK_MSG_MAGIC || h.size > sizeof(body)) {
        if (fd >= 0)
            close(fd);
        return drop_connection(c, fail(c, ASIOJACK_CLIENT_PROTOCOL,
                    "the asiojack server sent a message this driver cannot read"));
    }
    memset(&body, 0, sizeof(body));
    if (h.size && io_all(c->fd, &body, h.size, 0, REPLY_TIMEOUT_MS, NULL) < 0) {
        if (fd >= 0)
            close(fd);
        return drop_connection(c, fail(c, ASIOJACK_CLIENT_PROTOCOL,
                                       "the asiojack server stopped mid-message"));
    }

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
        return drop_connection(c, fail(c, ASIOJACK_CLIENT_PROTOCOL,
                    "the asiojack server answered with message type %u, expected %u",
                    h.type, want_type));
    if (got_type)
        *got_type = h.type;
    if (out)
        memcpy(out, &body, h.size < out_size ? h.size : out_size);
    if (passed)
        *passed = fd;
    return 0;
}

static int read_reply(struct asiojack_client *c, uint32_t want_type, void *out,
                      uint32_t out_size)
{
    return read_reply_either(c, want_type, 0, NULL, out, out_size, NULL);
}

static int request(struct asiojack_client *c, uint32_t type, const void *payload,
                   uint32_t size)
{
    int r = send_msg(c, type, payload, size);
    return r ? r : read_reply(c, ASIOJACK_MSG_OK, NULL, 0);
}

static int say_hello(struct asiojack_client *c);
/* Open the auto-started server's log for appending, in the checked
 * runtime directory: never through a symlink, never a file that is not a
 * plain file of ours with one name (a planted link must not make a server
 * traceback land in some other file of this user's). */
static int open_log(struct asiojack_client *c, const char *dir, const char *name, char *log,
                    size_t size)
{
    struct stat st;
    int n = snprintf(log, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return fail(c, ASIOJACK_CLIENT_NO_SERVER, "the asiojack runtime directory path is too long");
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK |
                  O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(c, ASIOJACK_CLIENT_UNSAFE, "cannot open the asiojack server log %s: %s%s",
                    log, strerror(errno), errno == ELOOP ? " (a symbolic link: remove it)" : "");
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid() ||
        st.st_nlink != 1) {
        close(fd);
        return fail(c, ASIOJACK_CLIENT_UNSAFE,
                    "the asiojack log %s is not a plain file of yours: remove it", log);
    }
    return fd;
}

int asiojack_open_runtime_log(const char *name, char *error, size_t error_size)
{
    struct asiojack_client c;
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char log[sizeof(dir) + 32];
    int fd;

    memset(&c, 0, sizeof(c));
    if (runtime_dir(dir, sizeof(dir)) < 0) {
        fd = fail(&c, ASIOJACK_CLIENT_NO_SERVER, "the asiojack runtime directory path is too long");
    } else {
        mkdir(dir, 0700); /* if it exists, whose it is is checked next */
        fd = check_private_dir(&c, dir);
        if (!fd)
            fd = open_log(&c, dir, name, log, sizeof(log));
    }
    if (fd < 0)
        asiojack_copy_text(error, error_size, c.error);
    return fd < 0 ? -1 : fd;
}

/* Whether some server holds `<socket>.lock` (it flocks it for its whole
 * life): then a server is on its way even if the one we started gave way
 * to it. */
static int server_lock_held(const char *socket_path)
{
    char lock[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
    int n = snprintf(lock, sizeof(lock), "%s.lock", socket_path);
    if (n < 0 || (size_t)n >= sizeof(lock))
        return 0;
    int fd = open(lock, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd); /* also drops our shared lock, if we got it */
    return held;
}

int asiojack_client_connect(struct asiojack_client *c, const char *exe_name,
                            uint32_t bits, int autostart)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int r;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->shm_fd = -1;
    if (runtime_dir(dir, sizeof(dir)) < 0 || asiojack_socket_path(path, sizeof(path)) < 0)
        return fail(c, ASIOJACK_CLIENT_NO_SERVER, "the asiojack runtime directory path is too long");
    if (autostart)
        mkdir(dir, 0700); /* if it exists, whose it is is checked next */
    r = check_private_dir(c, dir);
    if (r)
        return r;

    c->fd = try_connect(path);
    if (c->fd < 0 && autostart) {
        char log[sizeof(dir) + 16];
        int log_fd = open_log(c, dir, "server.log", log, sizeof(log));
        if (log_fd < 0)
            return log_fd;
        pid_t server = asiojack_spawn_server(log_fd, path);
        close(log_fd);
        if (server >= 0) {
            uint64_t give_up = asiojack_now_ns() + START_TIMEOUT_MS * 1000000ull;
            while (c->fd < 0 && asiojack_now_ns() < give_up) {
                usleep(20000);
                c->fd = try_connect(path);
                /* The server we started died: if another one holds the
                 * lock (two programs started one each at the same moment),
                 * that one is about to listen; else it cannot run, and
                 * waiting longer helps nobody. */
                if (c->fd < 0 && server > 0 && !asiojack_process_alive(server) &&
                    !server_lock_held(path)) {
                    c->fd = try_connect(path);
                    break;
                }
            }
        }
        if (c->fd < 0)
            return fail(c, ASIOJACK_CLIENT_NO_SERVER,
                        "asiojack server not running on %s and could not be started "
                        "(see server.log beside it; in a container: "
                        "`asiojack install-service` outside it)",
                        path);
    }
    if (c->fd < 0)
        return fail(c, ASIOJACK_CLIENT_NO_SERVER,
                    "asiojack server not running (nothing listens on %s)", path);
    r = check_server_uid(c, path);
    if (r)
        return drop_connection(c, r);
    c->bits = bits;
    asiojack_copy_text(c->exe_name, sizeof(c->exe_name), exe_name);
    return say_hello(c);
}

/* HELLO on a fresh connection (whose server's uid was checked); on
 * failure the connection is closed. */
static int say_hello(struct asiojack_client *c)
{
    struct asiojack_msg_hello hello;
    struct asiojack_msg_welcome welcome;
    int r;

    memset(&hello, 0, sizeof(hello));
    hello.protocol_version = ASIOJACK_PROTOCOL_VERSION;
    hello.pid = (uint32_t)getpid();
    hello.bits = c->bits;
    asiojack_copy_text(hello.exe_name, sizeof(hello.exe_name), c->exe_name);
    r = send_msg(c, ASIOJACK_MSG_HELLO, &hello, sizeof(hello));
    if (!r)
        r = read_reply(c, ASIOJACK_MSG_WELCOME, &welcome, sizeof(welcome));
    if (r == ASIOJACK_CLIENT_VERSION) {
        const char *update = c->server_protocol > ASIOJACK_PROTOCOL_VERSION ?
            "update the asiojack driver (asiojack register)" :
            "update the asiojack server (pip install -U asiojack)";
        fail(c, r, "asiojack server protocol %u, driver protocol %u: %s",
             c->server_protocol, ASIOJACK_PROTOCOL_VERSION, update);
    }
    if (r)
        return drop_connection(c, r);
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
        return drop_connection(c, fail(c, ASIOJACK_CLIENT_PROTOCOL,
                    "the asiojack server redirected to %.100s, outside %.100s",
                    to->socket_path, dir));
    drop_connection(c, 0);
    c->fd = try_connect(to->socket_path);
    if (c->fd < 0)
        return fail(c, ASIOJACK_CLIENT_NO_SERVER,
                    "the asiojack server for JACK server '%s' does not answer on %.150s",
                    to->jack_server, to->socket_path);
    /* The sibling is checked like the first server: it must be ours. */
    int r = check_server_uid(c, to->socket_path);
    if (r)
        return drop_connection(c, r);
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

/* What the segment's memfd must be before it is mapped: ours and closed
 * to others (a memfd can be re-opened through /proc/<pid>/fd, and then its
 * mode counts), a plain file of exactly the announced size, sealed so that
 * nobody can shrink it (SIGBUS in the JACK thread and here) or grow it. */
static int check_segment_fd(struct asiojack_client *c, int fd, uint64_t size)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    const int needed = F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL;
    if (fstat(fd, &st) < 0)
        return fail(c, ASIOJACK_CLIENT_SHM, "cannot inspect the shared memory: %s",
                    strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
        return fail(c, ASIOJACK_CLIENT_SHM,
                    "the shared memory the server sent is not a private file of yours "
                    "(uid %u, mode %04o)", (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    if (seals < 0 || (seals & needed) != needed)
        return fail(c, ASIOJACK_CLIENT_SHM,
                    "the shared memory the server sent is not sealed against resizing");
    if (size < sizeof(struct asiojack_shm) || size > SIZE_MAX || (uint64_t)st.st_size != size)
        return fail(c, ASIOJACK_CLIENT_SHM,
                    "the shared memory has %llu bytes, the server announced %llu",
                    (unsigned long long)st.st_size, (unsigned long long)size);
    return 0;
}

int asiojack_client_open(struct asiojack_client *c, const char *client_name,
                         uint32_t n_inputs, uint32_t n_outputs)
{
    struct asiojack_msg_open open_msg;
    struct asiojack_msg_opened opened;
    int fd = -1;

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
                              sizeof(reply), &fd);
    if (!r && got == ASIOJACK_MSG_REDIRECT) {
        /* Once only: the sibling is bound to this JACK server and never
         * redirects a session for it. */
        r = follow_redirect(c, &reply.redirect);
        if (!r)
            r = send_msg(c, ASIOJACK_MSG_OPEN, &open_msg, sizeof(open_msg));
        if (!r)
            r = read_reply_either(c, ASIOJACK_MSG_OPENED, 0, NULL, &reply, sizeof(reply), &fd);
    }
    if (r)
        return r;
    opened = reply.opened;
    /* From here on the server has a session for us: a failure closes the
     * connection, which ends that session too. */
    if (fd < 0)
        return drop_connection(c, fail(c, ASIOJACK_CLIENT_SHM,
                                       "the asiojack server sent no shared memory"));
    uint64_t size = (uint64_t)opened.shm_size_lo | ((uint64_t)opened.shm_size_hi << 32);
    r = check_segment_fd(c, fd, size);
    if (r) {
        close(fd);
        return drop_connection(c, r);
    }
    void *base = map_segment(c, fd, (size_t)size);
    if (base == MAP_FAILED) {
        r = fail(c, ASIOJACK_CLIENT_SHM, "cannot map the shared memory%s: %s",
                 c->map_below_4g ? " below 4 GiB for a 32-bit program" : "", strerror(errno));
        close(fd);
        return drop_connection(c, r);
    }
    if (c->map_below_4g && (uint64_t)(uintptr_t)base + size > 0x100000000u) {
        munmap(base, (size_t)size);
        close(fd);
        return drop_connection(c, fail(c, ASIOJACK_CLIENT_SHM,
                    "the shared memory landed above 4 GiB: a 32-bit program cannot use it"));
    }
    /* Locked too where RLIMIT_MEMLOCK allows; populated is what is left
     * otherwise (the server locks its own mapping and logs a refusal). */
    (void)mlock(base, (size_t)size);
    const char *bad = asiojack_shm_layout(base, size, &c->layout);
    if (bad) {
        munmap(base, (size_t)size);
        close(fd);
        return drop_connection(c, fail(c, ASIOJACK_CLIENT_SHM, "%s", bad));
    }
    c->shm = base;
    c->shm_size = size;
    c->shm_fd = fd;
    c->session_id = opened.session_id;
    opened.client_name[sizeof(opened.client_name) - 1] = 0;
    asiojack_copy_text(c->client_name, sizeof(c->client_name), opened.client_name);
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
            request(c, ASIOJACK_MSG_CLOSE, NULL, 0); /* may drop the connection */
        drop_connection(c, 0);
    }
    if (c->shm) {
        munmap(c->shm, (size_t)c->shm_size);
        c->shm = NULL;
    }
    if (c->shm_fd >= 0) {
        close(c->shm_fd);
        c->shm_fd = -1;
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
    if (!c->shm || half > 1 || ch >= c->layout.n_inputs)
        return NULL;
    return (uint8_t *)c->shm + asiojack_layout_in_offset(&c->layout, half, ch);
}

void *asiojack_client_out_buffer(struct asiojack_client *c, uint32_t half,
                                 uint32_t ch)
{
    if (!c->shm || half > 1 || ch >= c->layout.n_outputs)
        return NULL;
    return (uint8_t *)c->shm + asiojack_layout_out_offset(&c->layout, half, ch);
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

    /* No FUTEX_WAKE while the engine is still polling (asiojack_abi.h):
     * that saves this thread a kernel entry in most cycles. */
    if (asiojack_mark_done(s, seq)) {
        asiojack_futex_wake(&s->done_seq);
        c->done_wakes++;
    }
    /* Too late if the engine has moved on or its deadline has passed: that
     * half was played as silence and this completion is discarded. */
    if (asiojack_ready_seq(s) != seq ||
        asiojack_now_ns() > deadline_ns)
        __atomic_fetch_add(&s->late, 1, __ATOMIC_RELAXED);
}
