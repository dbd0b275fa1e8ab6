/*
 * covmini.h: what a C client needs to talk to covmini and to covclient.
 *
 *   1. covmini's wire constants: its private CoNDIS address family
 *      (0xC0C0, version 1.0), the SAP type, the make call's ParamType, the
 *      address bounds and the reserved echo address
 *      (docs/call-manager.md says what each means).
 *   2. covclient's IOCTL interface, version 1: the device type, the control
 *      codes (METHOD_BUFFERED) and the request and response structures
 *      (docs/covclient-ioctl.md is the reference). The driver that serves
 *      it, covclient.sys, is not built yet (issue #12).
 *
 * C99; usable from a user-mode program and from a kernel driver. Every
 * structure has explicit reserved fields where C would pad, so its layout
 * is the same under every compiler; the sizes are asserted below. All
 * values are little-endian (every Windows target is).
 *
 * This header is checked against the Rust definitions (crates/covclient-abi):
 * `cargo test -p covclient-abi --test c_header` compiles it with the host C
 * compiler and compares every constant, size and offset. Change both.
 */
#pragma once
#ifndef COVMINI_H
#define COVMINI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Compile-time checks: C11 and C++11 have them; older compilers get a
 * negative-size array instead. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define COVMINI_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define COVMINI_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#else
#define COVMINI_STATIC_ASSERT_CAT2(a, b) a##b
#define COVMINI_STATIC_ASSERT_CAT(a, b) COVMINI_STATIC_ASSERT_CAT2(a, b)
#define COVMINI_STATIC_ASSERT(cond, msg) \
    typedef char COVMINI_STATIC_ASSERT_CAT(covmini_static_assert_, __LINE__)[(cond) ? 1 : -1]
#endif

/* ------------------------------------------------------------------------
 * 1. covmini's wire constants
 * ------------------------------------------------------------------------ */

/* CO_ADDRESS_FAMILY.AddressFamily: covmini's private NDIS_AF. */
#define COVMINI_AF 0x0000C0C0u
/* CO_ADDRESS_FAMILY.MajorVersion / MinorVersion: 1.0. covmini refuses
 * another major version, or a newer minor, with NDIS_STATUS_BAD_VERSION. */
#define COVMINI_AF_MAJOR_VERSION 1u
#define COVMINI_AF_MINOR_VERSION 0u
/* CO_SAP.SapType of a covmini SAP: the Sap bytes are a covmini address. */
#define COVMINI_SAP_TYPE_ADDRESS 0xC0C00001u
/* CO_MEDIA_PARAMETERS.MediaSpecific.ParamType of a make call or add party:
 * the Parameters bytes are the called covmini address. */
#define COVMINI_PARAM_TYPE_CALLED_ADDRESS 0xC0C00002u
/* An address is 1 to 32 opaque bytes; a call reaches the SAP whose address
 * is byte-for-byte equal. */
#define COVMINI_MIN_ADDRESS_LENGTH 1u
#define COVMINI_MAX_ADDRESS_LENGTH 32u
/* The reserved address "echo": covmini answers a call to it itself and
 * sends every NBL back on the same VC. On the wire it is the 4 bytes, no
 * NUL. */
#define COVMINI_ECHO_ADDRESS "echo"
#define COVMINI_ECHO_ADDRESS_LENGTH 4u
/* Largest payload per NBL, in bytes. */
#define COVMINI_MTU 1500u

/* ------------------------------------------------------------------------
 * 2. covclient's IOCTL interface, version 1
 * ------------------------------------------------------------------------ */

/* The interface version every request header carries. */
#define COVCLIENT_ABI_VERSION 1u

/* The device type (customer range 32768-65535, devioctl.h) and the first
 * function code (customer range 2048-4095). */
#define COVCLIENT_DEVICE_TYPE 0xC0C0u
#define COVCLIENT_FUNCTION_BASE 0x800u

/* The control codes: CTL_CODE(COVCLIENT_DEVICE_TYPE, function,
 * METHOD_BUFFERED, access), written out so this header needs neither
 * winioctl.h nor devioctl.h (checked against CTL_CODE below when either is
 * included first). */
#define IOCTL_COVCLIENT_GET_VERSION 0xC0C02000u    /* 0x800, FILE_ANY_ACCESS */
#define IOCTL_COVCLIENT_LIST_ADAPTERS 0xC0C06004u  /* 0x801, FILE_READ_ACCESS */
#define IOCTL_COVCLIENT_OPEN_AF 0xC0C0E008u        /* 0x802, read | write */
#define IOCTL_COVCLIENT_CLOSE_AF 0xC0C0E00Cu       /* 0x803, read | write */
#define IOCTL_COVCLIENT_REGISTER_SAP 0xC0C0E010u   /* 0x804, read | write */
#define IOCTL_COVCLIENT_DEREGISTER_SAP 0xC0C0E014u /* 0x805, read | write */
#define IOCTL_COVCLIENT_CREATE_VC 0xC0C0E018u      /* 0x806, read | write */
#define IOCTL_COVCLIENT_DELETE_VC 0xC0C0E01Cu      /* 0x807, read | write */
#define IOCTL_COVCLIENT_MAKE_CALL 0xC0C0E020u      /* 0x808, read | write */
#define IOCTL_COVCLIENT_ANSWER_CALL 0xC0C0E024u    /* 0x809, read | write */
#define IOCTL_COVCLIENT_ADD_PARTY 0xC0C0E028u      /* 0x80A, read | write */
#define IOCTL_COVCLIENT_DROP_PARTY 0xC0C0E02Cu     /* 0x80B, read | write */
#define IOCTL_COVCLIENT_MODIFY_QOS 0xC0C0E030u     /* 0x80C, read | write */
#define IOCTL_COVCLIENT_CLOSE_CALL 0xC0C0E034u     /* 0x80D, read | write */
#define IOCTL_COVCLIENT_SEND 0xC0C0E038u           /* 0x80E, read | write */
#define IOCTL_COVCLIENT_GET_COUNTERS 0xC0C0603Cu   /* 0x80F, FILE_READ_ACCESS */
#define IOCTL_COVCLIENT_EXPECT_PATTERN 0xC0C0E040u /* 0x810, read | write */
#define IOCTL_COVCLIENT_OID_REQUEST 0xC0C0E044u    /* 0x811, read | write */
#define IOCTL_COVCLIENT_WAIT_EVENTS 0xC0C06048u    /* 0x812, FILE_READ_ACCESS */

#if defined(CTL_CODE) && defined(METHOD_BUFFERED) && defined(FILE_READ_ACCESS)
COVMINI_STATIC_ASSERT(IOCTL_COVCLIENT_GET_VERSION ==
                          CTL_CODE(COVCLIENT_DEVICE_TYPE, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS),
                      "GET_VERSION is CTL_CODE(0xC0C0, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)");
COVMINI_STATIC_ASSERT(IOCTL_COVCLIENT_SEND ==
                          CTL_CODE(COVCLIENT_DEVICE_TYPE, 0x80E, METHOD_BUFFERED,
                                   FILE_READ_ACCESS | FILE_WRITE_ACCESS),
                      "SEND is CTL_CODE(0xC0C0, 0x80E, METHOD_BUFFERED, read | write)");
COVMINI_STATIC_ASSERT(IOCTL_COVCLIENT_WAIT_EVENTS ==
                          CTL_CODE(COVCLIENT_DEVICE_TYPE, 0x812, METHOD_BUFFERED, FILE_READ_ACCESS),
                      "WAIT_EVENTS is CTL_CODE(0xC0C0, 0x812, METHOD_BUFFERED, FILE_READ_ACCESS)");
#endif

/* Bounds (a request beyond one is refused with STATUS_INVALID_PARAMETER). */
#define COVCLIENT_MAX_ADDRESS_BYTES 64u /* SAP bytes, called address, close data */
#define COVCLIENT_MAX_SEND_NBLS 256u
#define COVCLIENT_MAX_SEND_BYTES 65536u
#define COVCLIENT_MAX_OID_BYTES 4096u
#define COVCLIENT_MAX_EVENTS 64u
#define COVCLIENT_MAX_ADAPTER_AFS 4u

/* COVCLIENT_CALL_PARAMETERS.flags (QOS_REQUEST.flags: NO_CALL_MGR_PARAMETERS
 * only). */
#define COVCLIENT_CALL_MULTIPOINT 0x1u
#define COVCLIENT_CALL_NO_CALL_MGR_PARAMETERS 0x2u
#define COVCLIENT_CALL_NO_MEDIA_PARAMETERS 0x4u
#define COVCLIENT_CALL_FLAGS_ALL 0x7u

/* REGISTER_SAP answer_mode and ANSWER_CALL action (PEND: answer_mode only). */
#define COVCLIENT_ANSWER_ACCEPT 1u
#define COVCLIENT_ANSWER_REJECT 2u
#define COVCLIENT_ANSWER_PEND 3u

/* Send and expected-data patterns. COUNTER: byte k of the j-th NBL of a
 * send is (seed + j + k) mod 256; CONSTANT: every byte is seed mod 256. */
#define COVCLIENT_PATTERN_NONE 0u
#define COVCLIENT_PATTERN_CONSTANT 1u
#define COVCLIENT_PATTERN_COUNTER 2u

/* COVCLIENT_COUNTERS_REQUEST.flags. */
#define COVCLIENT_COUNTERS_RESET 0x1u

/* COVCLIENT_OID_REQUEST.kind. */
#define COVCLIENT_OID_QUERY 0u
#define COVCLIENT_OID_SET 1u

/* Handles: opaque 64-bit values. Top byte COVCLIENT_HANDLE_TAG, then the
 * kind, a 16-bit generation and a 32-bit index; a stale (old generation),
 * foreign or wrong-kind handle is refused with STATUS_INVALID_HANDLE. */
#define COVCLIENT_HANDLE_TAG 0xC7u
#define COVCLIENT_HANDLE_ADAPTER 1u
#define COVCLIENT_HANDLE_AF 2u
#define COVCLIENT_HANDLE_SAP 3u
#define COVCLIENT_HANDLE_VC 4u
#define COVCLIENT_HANDLE_PARTY 5u

/* COVCLIENT_EVENT.kind (docs/covclient-ioctl.md, "Events", gives each
 * kind's fields). */
#define COVCLIENT_EVENT_AF_OFFERED 1u
#define COVCLIENT_EVENT_OPEN_AF_COMPLETE 2u
#define COVCLIENT_EVENT_CLOSE_AF_COMPLETE 3u
#define COVCLIENT_EVENT_REGISTER_SAP_COMPLETE 4u
#define COVCLIENT_EVENT_DEREGISTER_SAP_COMPLETE 5u
#define COVCLIENT_EVENT_INCOMING_CALL 6u
#define COVCLIENT_EVENT_CALL_CONNECTED 7u
#define COVCLIENT_EVENT_MAKE_CALL_COMPLETE 8u
#define COVCLIENT_EVENT_CLOSE_CALL_COMPLETE 9u
#define COVCLIENT_EVENT_INCOMING_CLOSE 10u
#define COVCLIENT_EVENT_ADD_PARTY_COMPLETE 11u
#define COVCLIENT_EVENT_DROP_PARTY_COMPLETE 12u
#define COVCLIENT_EVENT_INCOMING_DROP_PARTY 13u
#define COVCLIENT_EVENT_INCOMING_QOS_CHANGE 14u
#define COVCLIENT_EVENT_MODIFY_QOS_COMPLETE 15u
#define COVCLIENT_EVENT_SEND_COMPLETE 16u
#define COVCLIENT_EVENT_STATUS 17u
#define COVCLIENT_EVENT_ADAPTER_BOUND 18u
#define COVCLIENT_EVENT_ADAPTER_UNBIND 19u
#define COVCLIENT_EVENT_PNP 20u
#define COVCLIENT_EVENT_MAX 20u

/* The header every request but GET_VERSION starts with. */
typedef struct COVCLIENT_REQUEST_HEADER {
    uint32_t version; /* COVCLIENT_ABI_VERSION */
    uint32_t reserved;
} COVCLIENT_REQUEST_HEADER;

/* GET_VERSION: no input; this output. */
typedef struct COVCLIENT_VERSION_INFO {
    uint32_t abi_version;
    uint32_t abi_version_min;
    uint16_t driver_major;
    uint16_t driver_minor;
    uint32_t address_family;
    uint32_t af_major_version;
    uint32_t af_minor_version;
    uint32_t max_events;
    uint32_t reserved;
} COVCLIENT_VERSION_INFO;

/* LIST_ADAPTERS: this input; output COVCLIENT_ADAPTER_LIST followed by
 * `returned` COVCLIENT_ADAPTER_INFO. */
typedef struct COVCLIENT_LIST_ADAPTERS_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint32_t first;
    uint32_t reserved;
} COVCLIENT_LIST_ADAPTERS_REQUEST;

typedef struct COVCLIENT_AF_INFO {
    uint32_t address_family;
    uint32_t major_version;
    uint32_t minor_version;
    uint32_t reserved;
} COVCLIENT_AF_INFO;

typedef struct COVCLIENT_ADAPTER_INFO {
    uint64_t adapter; /* handle */
    uint64_t net_luid;
    uint32_t if_index;
    uint32_t af_count;
    COVCLIENT_AF_INFO afs[4]; /* COVCLIENT_MAX_ADAPTER_AFS */
} COVCLIENT_ADAPTER_INFO;

typedef struct COVCLIENT_ADAPTER_LIST {
    uint32_t total;
    uint32_t returned;
    uint32_t first;
    uint32_t reserved;
} COVCLIENT_ADAPTER_LIST;

/* CLOSE_AF, DEREGISTER_SAP, CREATE_VC (the AF), DELETE_VC. */
typedef struct COVCLIENT_HANDLE_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t handle;
} COVCLIENT_HANDLE_REQUEST;

/* The output of every request that starts an NDIS operation. ndis_status
 * NDIS_STATUS_PENDING: the outcome arrives as an event. */
typedef struct COVCLIENT_RESULT {
    uint32_t ndis_status;
    uint32_t reserved;
    uint64_t handle; /* the new AF, SAP, VC or party, or 0 */
} COVCLIENT_RESULT;

typedef struct COVCLIENT_OPEN_AF_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t adapter;
    uint32_t address_family;
    uint32_t major_version;
    uint32_t minor_version;
    uint32_t reserved;
} COVCLIENT_OPEN_AF_REQUEST;

typedef struct COVCLIENT_REGISTER_SAP_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t af;
    uint32_t sap_type;
    uint32_t sap_length; /* <= COVCLIENT_MAX_ADDRESS_BYTES */
    uint32_t answer_mode; /* COVCLIENT_ANSWER_* */
    uint32_t reject_status; /* an NDIS error status for REJECT, else 0 */
    uint8_t sap[64]; /* the first sap_length bytes; the rest 0 */
} COVCLIENT_REGISTER_SAP_REQUEST;

/* A FLOWSPEC (qos.h), field for field. */
typedef struct COVCLIENT_FLOWSPEC {
    uint32_t token_rate;
    uint32_t token_bucket_size;
    uint32_t peak_bandwidth;
    uint32_t latency;
    uint32_t delay_variation;
    uint32_t service_type;
    uint32_t max_sdu_size;
    uint32_t minimum_policed_size;
} COVCLIENT_FLOWSPEC;

typedef struct COVCLIENT_CALL_PARAMETERS {
    uint32_t flags; /* COVCLIENT_CALL_* */
    uint32_t param_type; /* COVMINI_PARAM_TYPE_CALLED_ADDRESS for covmini */
    uint32_t address_length; /* <= COVCLIENT_MAX_ADDRESS_BYTES */
    uint32_t reserved;
    uint8_t address[64]; /* the first address_length bytes; the rest 0 */
    COVCLIENT_FLOWSPEC transmit;
    COVCLIENT_FLOWSPEC receive;
} COVCLIENT_CALL_PARAMETERS;

/* MAKE_CALL and ADD_PARTY. */
typedef struct COVCLIENT_CALL_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t vc;
    COVCLIENT_CALL_PARAMETERS params;
} COVCLIENT_CALL_REQUEST;

typedef struct COVCLIENT_ANSWER_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t vc;
    uint32_t action; /* COVCLIENT_ANSWER_ACCEPT or _REJECT */
    uint32_t ndis_status; /* an NDIS error status for REJECT, else 0 */
} COVCLIENT_ANSWER_REQUEST;

typedef struct COVCLIENT_QOS_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t vc;
    uint32_t flags; /* 0 or COVCLIENT_CALL_NO_CALL_MGR_PARAMETERS */
    uint32_t reserved;
    COVCLIENT_FLOWSPEC transmit;
    COVCLIENT_FLOWSPEC receive;
} COVCLIENT_QOS_REQUEST;

/* CLOSE_CALL (handle: the VC; party: the last party or 0) and DROP_PARTY
 * (handle: the party; party: 0). */
typedef struct COVCLIENT_CLOSE_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t handle;
    uint64_t party;
    uint32_t data_length; /* <= COVCLIENT_MAX_ADDRESS_BYTES */
    uint32_t reserved;
    uint8_t data[64]; /* the first data_length bytes; the rest 0 */
} COVCLIENT_CLOSE_REQUEST;

typedef struct COVCLIENT_SEND_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t vc;
    uint32_t nbl_count; /* 1..COVCLIENT_MAX_SEND_NBLS */
    uint32_t nbl_size; /* 1..COVCLIENT_MAX_SEND_BYTES */
    uint32_t pattern; /* COVCLIENT_PATTERN_CONSTANT or _COUNTER */
    uint32_t seed;
} COVCLIENT_SEND_REQUEST;

typedef struct COVCLIENT_EXPECT_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t vc;
    uint32_t pattern; /* COVCLIENT_PATTERN_* */
    uint32_t seed; /* 0 with COVCLIENT_PATTERN_NONE */
} COVCLIENT_EXPECT_REQUEST;

typedef struct COVCLIENT_COUNTERS_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t vc;
    uint32_t flags; /* 0 or COVCLIENT_COUNTERS_RESET */
    uint32_t reserved;
} COVCLIENT_COUNTERS_REQUEST;

typedef struct COVCLIENT_COUNTERS {
    uint64_t sends;
    uint64_t send_bytes;
    uint64_t sends_completed;
    uint64_t sends_failed;
    uint32_t last_send_status;
    uint32_t reserved;
    uint64_t receives;
    uint64_t receive_bytes;
    uint64_t receives_matched;
    uint64_t receives_mismatched;
    uint64_t first_mismatch; /* UINT64_MAX: none */
} COVCLIENT_COUNTERS;

/* OID_REQUEST: this, then (a set) data_length bytes. Output:
 * COVCLIENT_OID_RESULT, then (a query) bytes_written bytes. */
typedef struct COVCLIENT_OID_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint64_t handle; /* adapter, AF or VC */
    uint32_t oid;
    uint32_t kind; /* COVCLIENT_OID_QUERY or _SET */
    uint32_t data_length; /* <= COVCLIENT_MAX_OID_BYTES */
    uint32_t reserved;
} COVCLIENT_OID_REQUEST;

typedef struct COVCLIENT_OID_RESULT {
    uint32_t ndis_status;
    uint32_t bytes_written;
    uint32_t bytes_needed;
    uint32_t reserved;
} COVCLIENT_OID_RESULT;

/* WAIT_EVENTS: this input; output COVCLIENT_EVENT_BATCH followed by `count`
 * COVCLIENT_EVENT. */
typedef struct COVCLIENT_EVENTS_REQUEST {
    COVCLIENT_REQUEST_HEADER header;
    uint32_t max_events; /* 1..COVCLIENT_MAX_EVENTS */
    uint32_t reserved;
} COVCLIENT_EVENTS_REQUEST;

typedef struct COVCLIENT_EVENT_BATCH {
    uint32_t count;
    uint32_t lost; /* dropped since the last batch (queue full) */
    uint64_t first_sequence;
} COVCLIENT_EVENT_BATCH;

typedef struct COVCLIENT_EVENT {
    uint32_t kind; /* COVCLIENT_EVENT_* */
    uint32_t ndis_status;
    uint64_t sequence;
    uint64_t adapter;
    uint64_t object;
    uint64_t related;
    uint64_t arg0;
    uint64_t arg1;
    uint64_t arg2;
} COVCLIENT_EVENT;

/* Every structure's size (the Rust side asserts the same ones, and that
 * none has implicit padding). */
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_REQUEST_HEADER) == 8, "COVCLIENT_REQUEST_HEADER");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_VERSION_INFO) == 32, "COVCLIENT_VERSION_INFO");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_LIST_ADAPTERS_REQUEST) == 16, "COVCLIENT_LIST_ADAPTERS_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_AF_INFO) == 16, "COVCLIENT_AF_INFO");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_ADAPTER_INFO) == 88, "COVCLIENT_ADAPTER_INFO");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_ADAPTER_LIST) == 16, "COVCLIENT_ADAPTER_LIST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_HANDLE_REQUEST) == 16, "COVCLIENT_HANDLE_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_RESULT) == 16, "COVCLIENT_RESULT");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_OPEN_AF_REQUEST) == 32, "COVCLIENT_OPEN_AF_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_REGISTER_SAP_REQUEST) == 96, "COVCLIENT_REGISTER_SAP_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_FLOWSPEC) == 32, "COVCLIENT_FLOWSPEC");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_CALL_PARAMETERS) == 144, "COVCLIENT_CALL_PARAMETERS");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_CALL_REQUEST) == 160, "COVCLIENT_CALL_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_ANSWER_REQUEST) == 24, "COVCLIENT_ANSWER_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_QOS_REQUEST) == 88, "COVCLIENT_QOS_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_CLOSE_REQUEST) == 96, "COVCLIENT_CLOSE_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_SEND_REQUEST) == 32, "COVCLIENT_SEND_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_EXPECT_REQUEST) == 24, "COVCLIENT_EXPECT_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_COUNTERS_REQUEST) == 24, "COVCLIENT_COUNTERS_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_COUNTERS) == 80, "COVCLIENT_COUNTERS");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_OID_REQUEST) == 32, "COVCLIENT_OID_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_OID_RESULT) == 16, "COVCLIENT_OID_RESULT");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_EVENTS_REQUEST) == 16, "COVCLIENT_EVENTS_REQUEST");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_EVENT_BATCH) == 16, "COVCLIENT_EVENT_BATCH");
COVMINI_STATIC_ASSERT(sizeof(COVCLIENT_EVENT) == 64, "COVCLIENT_EVENT");

#ifdef __cplusplus
}
#endif

#endif /* COVMINI_H */
