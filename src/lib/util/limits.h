/*
 * limits.h - every built-in limit of libward in one place.
 *
 * Per-scan limits that administrators tune (file size, depth, ...) live in
 * struct ward_scan_limits (scan/limits.h) with these defaults; the constants
 * below are hard caps on parsers of untrusted or semi-trusted input.
 */
#ifndef WARD_UTIL_LIMITS_H
#define WARD_UTIL_LIMITS_H

/* Configuration files. */
#define WARD_CONF_MAX_FILE (16u << 20)
#define WARD_CONF_MAX_LINE 65536u
#define WARD_CONF_MAX_SECTION 1024u

/* Signature databases. */
#define WARD_SIG_MAX_LINE (1u << 20)       /* one signature line */
#define WARD_SIG_MAX_NAME 1024u            /* a signature name */
#define WARD_SIG_MAX_SUBSIGS 64u           /* subsignatures per logical signature */
#define WARD_SIG_MAX_PATTERN_NODES 65536u  /* parsed elements of one body pattern */
#define WARD_SIG_MAX_EXPR_DEPTH 64u        /* nesting of logical expressions */
#define WARD_SIG_MAX_GAP 0x7fffffffu       /* largest {n-m} bound accepted */
#define WARD_SIG_MAX_REGEX (4u << 20)      /* generated regex text of one pattern */
#define WARD_DB_MAX_FILE (1ull << 32)      /* one database source file */
#define WARD_CVD_HEADER 512u

/* Scanning. */
#define WARD_READ_CHUNK (1u << 20)          /* read() size for streaming objects */
#define WARD_MAX_PATH_DEPTH 64u              /* container nesting hard cap */
#define WARD_MAX_NAME 4096u                  /* a member name inside a container */
#define WARD_MAX_INMEM_CHILD (8u << 20)      /* larger children spill to temp files */

#endif
