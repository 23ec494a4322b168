/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* autostart.h: starting `asiojack serve` on demand, detached from the caller. */
#ifndef ASIOJACK_AUTOSTART_H
#define ASIOJACK_AUTOSTART_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Start the server in its own session, not as a child that the (Wine)
 * caller would have to reap, with the environment of
 * asiojack_server_environ.  The command is $ASIOJACK_SERVER, else
 * `asiojack`; its output goes to `log_fd`, a file the caller opened (and
 * checked) itself, so no path is opened again on the way, after a line
 * naming the `socket_path` nobody answered on.  Returns the server's pid, 0
 * if it was launched but its pid is unknown, -1 if nothing could be run.
 */
pid_t asiojack_spawn_server(int log_fd, const char *socket_path);

/*
 * The variables of this process's environment a server (or the settings
 * window) may inherit, as pointers into environ, NULL-terminated, at most
 * max - 1 of them.  No LD_LIBRARY_PATH, LD_PRELOAD or other runtime's
 * settings: see autostart.c.
 */
size_t asiojack_server_environ(char **out, size_t max);

/* Whether a process still exists (a zombie reaped by init does not). */
int asiojack_process_alive(pid_t pid);

#endif /* ASIOJACK_AUTOSTART_H */
