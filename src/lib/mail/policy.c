/* policy.c - the layered lookup of mail policy options, per recipient. */
#include "mail/policy.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/options.h"

#define GROUP_PREFIX "group:"
#define GROUP_PREFIX_LEN 6

/* The options.c checker for regexes (size bound, then regcomp), reused for group lists. */
static const struct ward_opt regex_opt = {"group", "recipients", WARD_OPT_REGEX, NULL, NULL, 0};

static bool is_group(const char *section)
{
    return strncmp(section, GROUP_PREFIX, GROUP_PREFIX_LEN) == 0;
}

/*
 * Compiled expressions, per thread, by their text: group lists and
 * filter_name are the same few expressions for every message, and glibc's
 * regcomp costs far more than a match. Keyed by text, an entry stays right
 * across reloads; the least recently used of RX_SLOTS goes.
 */
#define RX_SLOTS 64
#define RX_MAX_TEXT 4096

struct rx_slot {
    char *text; /* as compiled (with ^( )$ when whole) */
    regex_t rx;
    bool ok; /* false: it does not compile (never matches) */
    uint64_t used;
};

static __thread struct rx_slot rx_cache[RX_SLOTS];
static __thread uint64_t rx_clock;

const regex_t *ward_policy_regex(const char *re, bool whole)
{
    char text[RX_MAX_TEXT + 8];
    if (strlen(re) > RX_MAX_TEXT)
        return NULL;
    snprintf(text, sizeof text, whole ? "^(%s)$" : "%s", re);
    struct rx_slot *victim = &rx_cache[0];
    for (size_t i = 0; i < RX_SLOTS; i++) {
        struct rx_slot *s = &rx_cache[i];
        if (s->text && strcmp(s->text, text) == 0) {
            s->used = ++rx_clock;
            return s->ok ? &s->rx : NULL;
        }
        if (s->used < victim->used)
            victim = s;
    }
    if (victim->text) {
        if (victim->ok)
            regfree(&victim->rx);
        free(victim->text);
        victim->text = NULL;
    }
    if (!(victim->text = strdup(text)))
        return NULL;
    const char *why;
    victim->ok = ward_opt_parse(&regex_opt, re, NULL, &why) &&
                 regcomp(&victim->rx, text, REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0;
    victim->used = ++rx_clock;
    return victim->ok ? &victim->rx : NULL;
}

/* Does `addr` match the regex `re` as a whole, ignoring case? */
static bool regex_matches(const char *re, const char *addr)
{
    const regex_t *rx = ward_policy_regex(re, true);
    return rx && regexec(rx, addr, 0, NULL, 0) == 0;
}

/* Does one list (`recipients` or `senders`) of a group match addr? No list: yes. */
static bool list_matches(const ward_conf *users, const char *section, const char *key,
                         const char *addr)
{
    bool any = false;
    for (size_t i = 0; i < users->n_entries; i++) {
        const struct ward_conf_entry *e = &users->entries[i];
        if (strcmp(e->section, section) != 0 || strcmp(e->key, key) != 0)
            continue;
        any = true;
        if (addr && regex_matches(e->value, addr))
            return true;
    }
    return !any;
}

static const char *find_section(const ward_conf *users, const char *prefix, const char *name)
{
    size_t k = strlen(prefix);
    for (size_t i = 0; i < users->n_sections; i++) {
        const char *s = users->sections[i].name;
        if (strncmp(s, prefix, k) == 0 && strcasecmp(s + k, name) == 0)
            return s;
    }
    return NULL;
}

static const char *select_user_section(const ward_conf *users, const char *user, const char *sender,
                                       const char *rcpt)
{
    const char *s = NULL;
    if (user && *user && !is_group(user) && user[0] != '|' && user[0] != '@')
        s = find_section(users, "", user);
    if (!s && rcpt && *rcpt && strchr(rcpt, '@'))
        s = find_section(users, "", rcpt);
    if (!s && sender && *sender)
        s = find_section(users, "|", sender);
    if (!s && rcpt) {
        const char *at = strrchr(rcpt, '@');
        if (at && at[1])
            s = find_section(users, "", at);
    }
    for (size_t i = 0; !s && i < users->n_sections; i++) {
        const char *g = users->sections[i].name;
        if (is_group(g) && list_matches(users, g, "recipients", rcpt ? rcpt : "") &&
            list_matches(users, g, "senders", sender ? sender : ""))
            s = g;
    }
    return s;
}

void ward_policy_select(struct ward_policy *p, const ward_conf *conf, const ward_conf *users,
                        const char *agent, const char *user, const char *sender, const char *rcpt)
{
    p->conf = conf;
    p->users = users;
    p->user_section = users ? select_user_section(users, user, sender, rcpt) : NULL;
    size_t n = 0;
    if (agent && *agent && strcmp(agent, "global") != 0)
        p->sections[n++] = agent;
    p->sections[n++] = "global";
    p->sections[n] = NULL;
}

const char *ward_policy_str(const struct ward_policy *p, const char *key)
{
    if (p->user_section) {
        const struct ward_conf_entry *e = ward_conf_find(p->users, p->user_section, key);
        if (e && ward_mail_option_find(key))
            return e->value;
    }
    return ward_opt_str(p->conf, p->sections, key);
}

static uint64_t parsed(const struct ward_policy *p, const char *key)
{
    const struct ward_opt *o = ward_mail_option_find(key);
    if (!o)
        o = ward_option_find(p->sections[0], key);
    const char *v = ward_policy_str(p, key);
    uint64_t n = 0;
    const char *why;
    if (o && v && !ward_opt_parse(o, v, &n, &why) && o->def)
        (void)ward_opt_parse(o, o->def, &n, &why);
    return n;
}

uint64_t ward_policy_u64(const struct ward_policy *p, const char *key)
{
    return parsed(p, key);
}

bool ward_policy_bool(const struct ward_policy *p, const char *key)
{
    return parsed(p, key) != 0;
}

static int choice_index(const char *choices, const char *v)
{
    size_t n = strlen(v);
    int i = 0;
    for (const char *c = choices; c && *c; i++) {
        const char *bar = strchr(c, '|');
        size_t k = bar ? (size_t)(bar - c) : strlen(c);
        if (k == n && strncmp(c, v, n) == 0)
            return i;
        c = bar ? bar + 1 : c + k;
    }
    return -1;
}

unsigned ward_policy_enum(const struct ward_policy *p, const char *key)
{
    const struct ward_opt *o = ward_mail_option_find(key);
    if (!o || o->type != WARD_OPT_ENUM)
        return 0;
    const char *v = ward_policy_str(p, key);
    int i = v ? choice_index(o->choices, v) : -1;
    if (i < 0 && o->def)
        i = choice_index(o->choices, o->def);
    return i < 0 ? 0 : (unsigned)i;
}

bool ward_policy_same(const struct ward_policy *a, const struct ward_policy *b)
{
    if (a->conf != b->conf || a->users != b->users)
        return false;
    if (!a->user_section || !b->user_section)
        return a->user_section == b->user_section;
    return strcmp(a->user_section, b->user_section) == 0;
}

unsigned ward_policy_check(const ward_conf *users, void (*report)(void *ctx, const char *msg),
                           void *ctx)
{
    unsigned problems = 0;
    char msg[1024];
    for (size_t i = 0; i < users->n_entries; i++) {
        const struct ward_conf_entry *e = &users->entries[i];
        const struct ward_opt *o = ward_mail_option_find(e->key);
        const char *why = NULL;
        bool list = strcmp(e->key, "recipients") == 0 || strcmp(e->key, "senders") == 0;
        if (list && !is_group(e->section))
            why = "only [group:NAME] sections have recipients and senders lists";
        else if (list)
            (void)ward_opt_parse(&regex_opt, e->value, NULL, &why);
        else if (!o || strcmp(e->key, "user_config") == 0)
            why = "not a mail policy option";
        else if (strcmp(e->section, "global") == 0)
            why = "outside any section (user sections are [rcpt@domain], [|sender], [@domain], "
                  "[group:NAME])";
        else if (!ward_opt_parse(o, e->value, NULL, &why))
            ;
        else {
            for (size_t k = 0; k < i; k++) {
                const struct ward_conf_entry *q = &users->entries[k];
                if (strcmp(q->section, e->section) == 0 && strcmp(q->key, e->key) == 0) {
                    why = "set more than once in this section";
                    break;
                }
            }
        }
        if (why) {
            snprintf(msg, sizeof msg, "%s:%u: [%s] %s: %s", users->path, e->line, e->section,
                     e->key, why);
            report(ctx, msg);
            problems++;
        }
    }
    return problems;
}
