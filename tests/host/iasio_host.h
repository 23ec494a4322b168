/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iasio_host.h: IASIO as the test hosts call it (they cast the object from
 * CoCreateInstance blindly, like real hosts). */
#ifndef ASIOJACK_TEST_IASIO_HOST_H
#define ASIOJACK_TEST_IASIO_HOST_H

#include <windows.h>

#include "../../winedll/asio.h"

static const GUID clsid_asiojack = {
    0x214671f4, 0x47f6, 0x4a5b, {0xb9, 0x21, 0x2b, 0x3e, 0x3c, 0x5b, 0x5f, 0x59}};

/* The host's own view of the interface: its own declaration, on purpose,
 * so the tests do not just agree with the driver's header. */
typedef struct iasio iasio;
struct iasio_methods {
    HRESULT(STDMETHODCALLTYPE *QueryInterface)(iasio *, REFIID, void **);
    ULONG(STDMETHODCALLTYPE *AddRef)(iasio *);
    ULONG(STDMETHODCALLTYPE *Release)(iasio *);
    ASIOBool (*init)(iasio *, void *);
    void (*getDriverName)(iasio *, char *);
    LONG (*getDriverVersion)(iasio *);
    void (*getErrorMessage)(iasio *, char *);
    ASIOError (*start)(iasio *);
    ASIOError (*stop)(iasio *);
    ASIOError (*getChannels)(iasio *, LONG *, LONG *);
    ASIOError (*getLatencies)(iasio *, LONG *, LONG *);
    ASIOError (*getBufferSize)(iasio *, LONG *, LONG *, LONG *, LONG *);
    ASIOError (*canSampleRate)(iasio *, double);
    ASIOError (*getSampleRate)(iasio *, double *);
    ASIOError (*setSampleRate)(iasio *, double);
    ASIOError (*getClockSources)(iasio *, ASIOClockSource *, LONG *);
    ASIOError (*setClockSource)(iasio *, LONG);
    ASIOError (*getSamplePosition)(iasio *, ASIOSamples *, ASIOTimeStamp *);
    ASIOError (*getChannelInfo)(iasio *, ASIOChannelInfo *);
    ASIOError (*createBuffers)(iasio *, ASIOBufferInfo *, LONG, LONG, ASIOCallbacks *);
    ASIOError (*disposeBuffers)(iasio *);
    ASIOError (*controlPanel)(iasio *);
    ASIOError (*future)(iasio *, LONG, void *);
    ASIOError (*outputReady)(iasio *);
};
struct iasio {
    const struct iasio_methods *m;
};

#endif /* ASIOJACK_TEST_IASIO_HOST_H */
