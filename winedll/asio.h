/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * asio.h: the ASIO driver interface as a host sees it, declared from the
 * documented values (no SDK text).  Only the PE side includes it.
 *
 * ASIO's `long` is the Windows long: 32 bits on both i386 and x86_64, so the
 * fixed-width types below give the host's layout on either.
 */
#ifndef ASIOJACK_ASIO_H
#define ASIOJACK_ASIO_H

#include <stdint.h>

/* Hosts are built with 4-byte packing for these structures: it matters for
 * the doubles inside ASIOTime (its size is 148, not 152). */
#pragma pack(push, 4)

typedef int32_t ASIOBool;
typedef int32_t ASIOError;
typedef double ASIOSampleRate;
typedef int32_t ASIOSampleType;

enum {
    ASIOFalse = 0,
    ASIOTrue = 1,
};

enum {
    ASE_OK = 0,
    ASE_SUCCESS = 0x3f4847a0,     /* answer of future() to a supported query */
    ASE_NotPresent = -1000,
    ASE_HWMalfunction = -999,
    ASE_InvalidParameter = -998,
    ASE_InvalidMode = -997,
    ASE_SPNotAdvancing = -996,
    ASE_NoClock = -995,
    ASE_NoMemory = -994,
};

/* Sample types: only the little-endian PCM/float ones matter here. */
enum {
    ASIOSTInt16LSB = 16,
    ASIOSTInt24LSB = 17,
    ASIOSTInt32LSB = 18,
    ASIOSTFloat32LSB = 19,
    ASIOSTFloat64LSB = 20,
};

/* A 64-bit count split into two 32-bit halves, high first. */
typedef struct ASIOSamples {
    uint32_t hi;
    uint32_t lo;
} ASIOSamples;

/* Nanoseconds in the timeGetTime() time base, split like ASIOSamples. */
typedef struct ASIOTimeStamp {
    uint32_t hi;
    uint32_t lo;
} ASIOTimeStamp;

typedef struct ASIOClockSource {
    int32_t index;
    int32_t associatedChannel;
    int32_t associatedGroup;
    ASIOBool isCurrentSource;
    char name[32];
} ASIOClockSource;

typedef struct ASIOChannelInfo {
    int32_t channel;      /* in: channel number */
    ASIOBool isInput;     /* in */
    ASIOBool isActive;    /* out */
    int32_t channelGroup; /* out */
    ASIOSampleType type;  /* out */
    char name[32];        /* out */
} ASIOChannelInfo;

typedef struct ASIOBufferInfo {
    ASIOBool isInput;
    int32_t channelNum;
    void *buffers[2];     /* out: the two halves */
} ASIOBufferInfo;

/* AsioTimeInfo.flags */
enum {
    kSystemTimeValid = 1 << 0,
    kSamplePositionValid = 1 << 1,
    kSampleRateValid = 1 << 2,
    kSpeedValid = 1 << 3,
    kSampleRateChanged = 1 << 4,
    kClockSourceChanged = 1 << 5,
};

typedef struct AsioTimeInfo {
    double speed;
    ASIOTimeStamp systemTime;
    ASIOSamples samplePosition;
    ASIOSampleRate sampleRate;
    uint32_t flags;
    char reserved[12];
} AsioTimeInfo;

/* ASIOTimeCode.flags */
enum {
    kTcValid = 1 << 0,
    kTcRunning = 1 << 1,
    kTcReverse = 1 << 2,
    kTcOnspeed = 1 << 3,
    kTcStill = 1 << 4,
    kTcSpeedValid = 1 << 8,
};

typedef struct ASIOTimeCode {
    double speed;
    ASIOSamples timeCodeSamples;
    uint32_t flags;
    char future[64];
} ASIOTimeCode;

typedef struct ASIOTime {
    int32_t reserved[4];
    AsioTimeInfo timeInfo;
    ASIOTimeCode timeCode;
} ASIOTime;

/* Host callbacks: plain cdecl functions on both architectures. */
typedef struct ASIOCallbacks {
    void (*bufferSwitch)(int32_t doubleBufferIndex, ASIOBool directProcess);
    void (*sampleRateDidChange)(ASIOSampleRate sRate);
    int32_t (*asioMessage)(int32_t selector, int32_t value, void *message,
                           double *opt);
    ASIOTime *(*bufferSwitchTimeInfo)(ASIOTime *params,
                                      int32_t doubleBufferIndex,
                                      ASIOBool directProcess);
} ASIOCallbacks;

/* asioMessage selectors */
enum {
    kAsioSelectorSupported = 1,
    kAsioEngineVersion,
    kAsioResetRequest,
    kAsioBufferSizeChange,
    kAsioResyncRequest,
    kAsioLatenciesChanged,
    kAsioSupportsTimeInfo,
    kAsioSupportsTimeCode,
    kAsioMMCCommand,
    kAsioSupportsInputMonitor,
    kAsioSupportsInputGain,
    kAsioSupportsInputMeter,
    kAsioSupportsOutputGain,
    kAsioSupportsOutputMeter,
    kAsioOverload,
};

/* future() selectors */
enum {
    kAsioEnableTimeCodeRead = 1,
    kAsioDisableTimeCodeRead,
    kAsioSetInputMonitor,
    kAsioTransport,
    kAsioSetInputGain,
    kAsioGetInputMeter,
    kAsioSetOutputGain,
    kAsioGetOutputMeter,
    kAsioCanInputMonitor,
    kAsioCanTimeInfo,
    kAsioCanTimeCode,
    kAsioCanTransport,
    kAsioCanInputGain,
    kAsioCanInputMeter,
    kAsioCanOutputGain,
    kAsioCanOutputMeter,
    kAsioOptionalOne,
    kAsioSetIoFormat = 0x23111961,
    kAsioGetIoFormat = 0x23111983,
    kAsioCanDoIoFormat = 0x23112004,
    kAsioCanReportOverload = 0x24042012,
    kAsioGetInternalBufferSamples = 0x25042012,
    kAsioSupportsInputResampling = 0x26092017,
};

/* future(kAsioSetInputMonitor): route an input straight to an output. */
typedef struct ASIOInputMonitor {
    int32_t input;        /* channel, or -1 for all inputs */
    int32_t output;       /* where to hear it */
    int32_t gain;         /* 0 (-inf) .. 0x20000000 (0 dB) .. 0x7fffffff (+12 dB) */
    ASIOBool state;       /* ASIOTrue = on */
    int32_t pan;          /* 0 = left .. 0x7fffffff = right */
} ASIOInputMonitor;

/* future(kAsioTransport): the host drives the device's transport. */
typedef struct ASIOTransportParameters {
    int32_t command;      /* kTransportStart, ... below */
    ASIOSamples samplePosition; /* kTransportLocate's target */
    int32_t track;
    int32_t trackSwitches[16];
    char future[64];
} ASIOTransportParameters;

enum {
    kTransportStart = 1,
    kTransportStop,
    kTransportLocate,
    kTransportPunchIn,
    kTransportPunchOut,
    kTransportArmOn,
    kTransportArmOff,
    kTransportMonitorOn,
    kTransportMonitorOff,
    kTransportArm,
    kTransportMonitor,
};

/* Sizes of the text buffers the host passes in. */
#define ASIO_DRIVER_NAME_LEN 32
#define ASIO_ERROR_TEXT_LEN 124

#pragma pack(pop)

/* Layout pins for the host ABI (i386 and x86_64 differ only by pointers). */
_Static_assert(sizeof(ASIOClockSource) == 48, "ASIOClockSource size");
_Static_assert(sizeof(ASIOChannelInfo) == 52, "ASIOChannelInfo size");
_Static_assert(sizeof(AsioTimeInfo) == 48, "AsioTimeInfo size");
_Static_assert(sizeof(ASIOTimeCode) == 84, "ASIOTimeCode size");
_Static_assert(sizeof(ASIOTime) == 148, "ASIOTime size");
_Static_assert(sizeof(ASIOInputMonitor) == 20, "ASIOInputMonitor size");
_Static_assert(sizeof(ASIOTransportParameters) == 144, "ASIOTransportParameters size");

#endif /* ASIOJACK_ASIO_H */
