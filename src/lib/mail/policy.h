/*
 * policy.h - which mail policy applies to one recipient of a message.
 *
 * A policy is a chain of sections: the first matching section of the
 * user_config file, then the agent's section of ward.conf ([pipe], [mda],
 * [smtp], ...), then [global], then the built-in default of the option
 * (util/options.c, ward_mail_options). The user section is, in this order:
 *
 *   [NAME]            the user name the agent gave (ward-mda --user), if any
 *   [rcpt@domain]     the recipient (case-insensitive)
 *   [|sender@domain]  the envelope sender (case-insensitive)
 *   [@domain]         the recipient's domain (case-insensitive)
 *   [group:NAME]      in file order, the first group whose `recipients` and
 *                     `senders` lists both match; a list is one or more
 *                     lines of POSIX extended regexes, matched
 *                     case-insensitively against the whole address (as if
 *                     written ^(RE)$); a group without a list matches any
 *                     address for it.
 *
 * Contract: a ward_policy borrows both configurations (they must outlive
 * it) and owns nothing, so it may be copied. Selection never fails: a
 * group regex that does not compile (ward_policy_check reports it) never
 * matches. Values are the text of the option; the typed getters fall back
 * to the default for a value that does not parse.
 */
#ifndef WARD_MAIL_POLICY_H
#define WARD_MAIL_POLICY_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/conf.h"
#include "util/err.h"

struct ward_policy {
    const ward_conf *conf;    /* ward.conf (NULL: defaults only) */
    const ward_conf *users;   /* the user_config file, or NULL */
    const char *user_section; /* the matched section of users, or NULL */
    const char *sections[3];  /* the agent's section (if any), "global", NULL */
};

/* The policy of one recipient (rcpt may be NULL: the message as a whole). */
void ward_policy_select(struct ward_policy *p, const ward_conf *conf, const ward_conf *users,
                        const char *agent, const char *user, const char *sender, const char *rcpt);

/* The option's value along the chain; NULL when unset everywhere. */
const char *ward_policy_str(const struct ward_policy *p, const char *key);
uint64_t ward_policy_u64(const struct ward_policy *p, const char *key);
bool ward_policy_bool(const struct ward_policy *p, const char *key);
/* Index of the value in the option's choices ("a|b|c"), the default's when it is not one. */
unsigned ward_policy_enum(const struct ward_policy *p, const char *key);

/*
 * The compiled form of a policy regex (POSIX extended, case-insensitive;
 * whole: anchored at both ends), from a per-thread cache; NULL when it does
 * not compile or is too large (util/options.c bounds). Use it before this
 * thread's next call (which may evict it).
 */
const regex_t *ward_policy_regex(const char *re, bool whole);

/* Do two recipients have the same policy? */
bool ward_policy_same(const struct ward_policy *a, const struct ward_policy *b);

/*
 * Check a user_config file: every key a mail policy option with a valid
 * value, `recipients` and `senders` only in [group:NAME] sections, each a
 * regex that compiles. Reports "FILE:LINE: [section] key: problem" and
 * returns the number of problems.
 */
unsigned ward_policy_check(const ward_conf *users, void (*report)(void *ctx, const char *msg),
                           void *ctx);

#endif
