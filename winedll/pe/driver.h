/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * driver.h: the PE half's shared declarations: the driver object, its
 * identity, the unix-call glue and the callback thread.
 */
#ifndef ASIOJACK_DRIVER_H
#define ASIOJACK_DRIVER_H

#include <windows.h>

#include "asio.h"
#include "text.h"
#include "unixlib.h"

/* The driver's COM class, also the "CLSID" under HKLM\Software\ASIO. */
#define ASIOJACK_CLSID_STRING L"{214671F4-47F6-4A5B-B921-2B3E3C5B5F59}"
extern const GUID asiojack_clsid;
/* WineASIO's CLSID, answered too (register --as-wineasio). */
extern const GUID asiojack_wineasio_clsid;

#define ASIOJACK_DRIVER_NAME "asiojack"
#define ASIOJACK_DRIVER_VERSION 1

/*
 * ASIO methods are C++ virtual functions: __thiscall on i386 (the object
 * in ecx), the one convention on x86_64.  The IUnknown ones are stdcall.
 */
#if defined(__i386__)
#define ASIO_METHOD __attribute__((thiscall))
#else
#define ASIO_METHOD
#endif

struct asiojack_driver;

struct iasio_vtbl {
    HRESULT(STDMETHODCALLTYPE *QueryInterface)(struct asiojack_driver *self,
                                               REFIID riid, void **out);
    ULONG(STDMETHODCALLTYPE *AddRef)(struct asiojack_driver *self);
    ULONG(STDMETHODCALLTYPE *Release)(struct asiojack_driver *self);
    ASIOBool(ASIO_METHOD *init)(struct asiojack_driver *self, void *sys_handle);
    void(ASIO_METHOD *getDriverName)(struct asiojack_driver *self, char *name);
    LONG(ASIO_METHOD *getDriverVersion)(struct asiojack_driver *self);
    void(ASIO_METHOD *getErrorMessage)(struct asiojack_driver *self, char *text);
    ASIOError(ASIO_METHOD *start)(struct asiojack_driver *self);
    ASIOError(ASIO_METHOD *stop)(struct asiojack_driver *self);
    ASIOError(ASIO_METHOD *getChannels)(struct asiojack_driver *self, LONG *inputs,
                                        LONG *outputs);
    ASIOError(ASIO_METHOD *getLatencies)(struct asiojack_driver *self, LONG *input,
                                         LONG *output);
    ASIOError(ASIO_METHOD *getBufferSize)(struct asiojack_driver *self, LONG *min_size,
                                          LONG *max_size, LONG *preferred,
                                          LONG *granularity);
    ASIOError(ASIO_METHOD *canSampleRate)(struct asiojack_driver *self,
                                          ASIOSampleRate rate);
    ASIOError(ASIO_METHOD *getSampleRate)(struct asiojack_driver *self,
                                          ASIOSampleRate *rate);
    ASIOError(ASIO_METHOD *setSampleRate)(struct asiojack_driver *self,
                                          ASIOSampleRate rate);
    ASIOError(ASIO_METHOD *getClockSources)(struct asiojack_driver *self,
                                            ASIOClockSource *clocks, LONG *count);
    ASIOError(ASIO_METHOD *setClockSource)(struct asiojack_driver *self, LONG index);
    ASIOError(ASIO_METHOD *getSamplePosition)(struct asiojack_driver *self,
                                              ASIOSamples *position,
                                              ASIOTimeStamp *stamp);
    ASIOError(ASIO_METHOD *getChannelInfo)(struct asiojack_driver *self,
                                           ASIOChannelInfo *info);
    ASIOError(ASIO_METHOD *createBuffers)(struct asiojack_driver *self,
                                          ASIOBufferInfo *infos, LONG count,
                                          LONG frames, ASIOCallbacks *callbacks);
    ASIOError(ASIO_METHOD *disposeBuffers)(struct asiojack_driver *self);
    ASIOError(ASIO_METHOD *controlPanel)(struct asiojack_driver *self);
    ASIOError(ASIO_METHOD *future)(struct asiojack_driver *self, LONG selector,
                                   void *opt);
    ASIOError(ASIO_METHOD *outputReady)(struct asiojack_driver *self);
};

enum asiojack_state {
    STATE_LOADED,      /* created, init not (successfully) called */
    STATE_INITIALIZED, /* session open, segment mapped */
    STATE_PREPARED,    /* buffers created */
    STATE_RUNNING,
};

struct asiojack_driver {
    /* First: hosts treat the object pointer as the interface pointer. */
    const struct iasio_vtbl *vtbl;
    LONG refs;
    /* Serialises the host's control calls; never taken on the audio path. */
    CRITICAL_SECTION lock;
    /* Serialises requests on the server socket.  future() takes only this
     * one: hosts call it from inside bufferSwitch while stop() may hold
     * `lock` and wait for that very callback to return. */
    CRITICAL_SECTION io_lock;
    /* Guards the mapping behind d->shm: queries hold it shared while they
     * read the segment, closing the session takes it exclusive to unmap
     * (a reset may re-open the session under a GUI thread's query). */
    SRWLOCK shm_lock;
    enum asiojack_state state;
    uint64_t client;                   /* unix-side handle */
    const struct asiojack_shm *shm;    /* the segment, mapped by the unix side */
    struct asiojack_layout layout;     /* its geometry, copied and checked once at
                                          open: channel counts, sample type and
                                          sizes come from here, never the segment */
    char error[ASIO_ERROR_TEXT_LEN];

    /* From createBuffers; the callback thread asks the host what it
     * understands when it starts, so asioMessage is only ever called on
     * that thread. */
    ASIOCallbacks callbacks;
    BOOL time_info;                    /* host wants bufferSwitchTimeInfo */
    BOOL latency_messages;             /* host understands kAsioLatenciesChanged */
    BOOL size_messages;                /* host understands kAsioBufferSizeChange */
    BOOL overload_messages;            /* host understands kAsioOverload */
    BOOL time_code;                    /* future(kAsioEnableTimeCodeRead) */
    volatile LONG jack_gone;           /* JACK or the server went away under this
                                          session: re-open it at disposeBuffers */
    volatile LONG lost;                /* the session is closed and could not be
                                          re-opened yet: createBuffers tries again */
    volatile LONG config_changed;      /* the server asked for a reset: re-open
                                          the session at disposeBuffers */
    uint32_t frames;
    uint8_t in_active[ASIOJACK_MAX_CHANNELS];
    uint8_t out_active[ASIOJACK_MAX_CHANNELS];

    /* The callback thread */
    HANDLE thread;
    DWORD thread_id;
    volatile LONG quit;
    /* The cycle its bufferSwitch is in (0 = none) and whether the host
     * already handed it over with outputReady.  That thread only. */
    uint32_t cycle_seq;
    BOOL cycle_done;
    volatile LONG free_at_exit;        /* Released from inside a callback: the
                                          callback thread frees the driver last */
    char rt_error[ASIOJACK_TEXT_LEN];  /* why SCHED_FIFO was refused, if it was */
};

/* main.c: object and lock counts for DllCanUnloadNow. */
void asiojack_module_ref(void);
void asiojack_module_unref(void);
HMODULE asiojack_module(void);

/* entry.c: the one door every IASIO method goes through (see IASIO_METHOD). */
enum asiojack_need {
    NEED_NOTHING,   /* callable in any state */
    NEED_SESSION,   /* a query: ASE_NotPresent, in words, until init succeeded;
                       the segment stays mapped (shm_lock shared) until it leaves */
    NEED_CONTROL,   /* a state change: as NEED_SESSION, under d->lock */
    NEED_REOPEN,    /* createBuffers: as NEED_CONTROL, and re-opens a session
                       lost to JACK or the server going away */
};
ASIOError asiojack_enter(struct asiojack_driver *d, const char *method,
                         enum asiojack_need need);
ASIOError asiojack_leave(struct asiojack_driver *d, const char *method,
                         enum asiojack_need need, BOOL entered, ASIOError result);
/* Take d->lock; FALSE (not taken) when the caller is the callback thread
 * and another thread is stopping it: that thread holds the lock while it
 * waits for this one to return, so waiting here would deadlock. */
BOOL asiojack_lock(struct asiojack_driver *d);
/* Tear down and free a driver whose last reference is gone. */
void asiojack_driver_destroy(struct asiojack_driver *d);
/* ASE_OK, or ASE_NotPresent with its text when init has not succeeded. */
ASIOError asiojack_require_session(struct asiojack_driver *d);
/* Record why (the text getErrorMessage returns) and hand the code back. */
ASIOError asiojack_fail(struct asiojack_driver *d, ASIOError code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Define IASIO method `driver_<name>`: enter the door (state check, trace),
 * run `impl args` if that passed, leave the door (trace of the result).
 * `params` is the method's parameter list, its first parameter named d.
 */
#define IASIO_METHOD(name, need, impl, params, args)                              \
    ASIOError ASIO_METHOD driver_##name params                                    \
    {                                                                              \
        ASIOError r_ = asiojack_enter(d, #name, need);                            \
        return asiojack_leave(d, #name, need, r_ == ASE_OK,                       \
                              r_ == ASE_OK ? impl args : r_);                     \
    }

/* The methods defined with IASIO_METHOD, by file, in vtable order there. */
/* lifecycle.c */
ASIOError ASIO_METHOD driver_start(struct asiojack_driver *d);
ASIOError ASIO_METHOD driver_stop(struct asiojack_driver *d);
/* channels.c */
ASIOError ASIO_METHOD driver_getChannels(struct asiojack_driver *d, LONG *inputs,
                                         LONG *outputs);
ASIOError ASIO_METHOD driver_getChannelInfo(struct asiojack_driver *d, ASIOChannelInfo *info);
ASIOError ASIO_METHOD driver_getBufferSize(struct asiojack_driver *d, LONG *min_size,
                                           LONG *max_size, LONG *preferred, LONG *granularity);
ASIOError ASIO_METHOD driver_createBuffers(struct asiojack_driver *d, ASIOBufferInfo *infos,
                                           LONG count, LONG frames, ASIOCallbacks *callbacks);
ASIOError ASIO_METHOD driver_disposeBuffers(struct asiojack_driver *d);
/* clock.c */
ASIOError ASIO_METHOD driver_getLatencies(struct asiojack_driver *d, LONG *input,
                                          LONG *output);
ASIOError ASIO_METHOD driver_canSampleRate(struct asiojack_driver *d, ASIOSampleRate rate);
ASIOError ASIO_METHOD driver_getSampleRate(struct asiojack_driver *d, ASIOSampleRate *rate);
ASIOError ASIO_METHOD driver_setSampleRate(struct asiojack_driver *d, ASIOSampleRate rate);
ASIOError ASIO_METHOD driver_getClockSources(struct asiojack_driver *d,
                                             ASIOClockSource *clocks, LONG *count);
ASIOError ASIO_METHOD driver_setClockSource(struct asiojack_driver *d, LONG index);
ASIOError ASIO_METHOD driver_getSamplePosition(struct asiojack_driver *d,
                                               ASIOSamples *position, ASIOTimeStamp *stamp);
/* future.c */
ASIOError ASIO_METHOD driver_controlPanel(struct asiojack_driver *d);
ASIOError ASIO_METHOD driver_future(struct asiojack_driver *d, LONG selector, void *opt);
ASIOError ASIO_METHOD driver_outputReady(struct asiojack_driver *d);

/* lifecycle.c: the object, and the session behind it. */
HRESULT asiojack_driver_create(REFIID riid, void **out);
/* Open a session on the server and map its segment; d->lock held.  On
 * failure d->error says why. */
BOOL asiojack_open_session(struct asiojack_driver *d);
void asiojack_close_session(struct asiojack_driver *d);
/* A unix call that talks on the server socket: one at a time (io_lock). */
NTSTATUS asiojack_socket_call(struct asiojack_driver *d, enum asiojack_unix_func code,
                              void *args);
/* A control call on the session; a failure lands in d->error as
 * "<what>: <server's words>". */
BOOL asiojack_session_call(struct asiojack_driver *d, enum asiojack_unix_func code,
                           struct asiojack_unix_control *ctl, const char *what);
/* Stop the engine, then join the callback thread; d->lock held. */
void asiojack_do_stop(struct asiojack_driver *d);
/* channels.c: forget the host's buffers; d->lock held. */
void asiojack_do_dispose(struct asiojack_driver *d);

/* unixcall.c: 0 on success; anything else means the unix side is absent. */
NTSTATUS asiojack_unix_call(enum asiojack_unix_func code, void *args);
const char *asiojack_unix_missing(void);

/* callback.c: the thread that runs the host's bufferSwitch. */
BOOL asiojack_thread_start(struct asiojack_driver *d);
void asiojack_thread_stop(struct asiojack_driver *d);
/* outputReady from the host: hand the current cycle's outputs over now,
 * if called inside bufferSwitch on the callback thread (else nothing). */
void asiojack_thread_output_ready(struct asiojack_driver *d);

/* callback.c: "now" in the host's time base (that of timeGetTime), in ns. */
uint64_t asiojack_host_time_ns(void);

static inline void asiojack_split64(uint64_t v, uint32_t *hi, uint32_t *lo)
{
    *hi = (uint32_t)(v >> 32);
    *lo = (uint32_t)v;
}

#endif /* ASIOJACK_DRIVER_H */
