/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* autostart.h: starting `asiojack serve` on demand, detached from the caller. */
#ifndef ASIOJACK_AUTOSTART_H
#define ASIOJACK_AUTOSTART_H

/*
 * Start the server in its own session, not as a child that the (Wine)
 * caller would have to reap.  The command is $ASIOJACK_SERVER, else
 * `asiojack`; its output goes to `log_path`.  Returns 0 if the command was
 * launched (not that the server is up).
 */
int asiojack_spawn_server(const char *log_path);

#endif /* ASIOJACK_AUTOSTART_H */
