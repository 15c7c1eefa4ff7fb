/*
 * mtype.h - the true MIME type of content ("application/x-dosexec"), from
 * libmagic, which is loaded at first use (util/lazylib.h): only mail filters
 * on types need it, so a daemon that never asks does not carry it.
 *
 * Contract: thread-safe (one libmagic handle per thread, made at the
 * thread's first call and closed when it exits). False, with a reason in
 * out, when libmagic cannot be loaded or cannot tell.
 */
#ifndef WARD_MAIL_MTYPE_H
#define WARD_MAIL_MTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool ward_mtype_of(const uint8_t *p, size_t n, char *out, size_t cap);

#endif
