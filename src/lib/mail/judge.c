/* judge.c - status, action and removals of one policy for a scanned message. */
#include "mail/judge.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Attachment filters of one policy. */
struct filters {
    const regex_t *re; /* from the policy's cache; NULL: no filter_name */
    const char *types; /* the filter_type list as written */
    uint64_t max_size;
};

static ward_err filters_init(struct filters *f, const struct ward_policy *p, struct ward_diag *diag)
{
    memset(f, 0, sizeof *f);
    const char *re = ward_policy_str(p, "filter_name");
    if (re && *re && !(f->re = ward_policy_regex(re, false)))
        return ward_diag_set(diag, WARD_ERR_PARSE, "filter_name: '%s' does not compile", re);
    f->types = ward_policy_str(p, "filter_type");
    f->max_size = ward_policy_u64(p, "filter_max_size");
    return WARD_OK;
}

/* Is `type` in the list (comma or space separated; an entry ending in '/' is a prefix)? */
static bool type_listed(const char *list, const char *type)
{
    size_t tn = strlen(type);
    for (const char *p = list; p && *p;) {
        p += strspn(p, ", \t");
        size_t k = strcspn(p, ", \t");
        if (k && ((k == tn && strncasecmp(p, type, k) == 0) ||
                  (p[k - 1] == '/' && k <= tn && strncasecmp(p, type, k) == 0)))
            return true;
        p += k;
    }
    return false;
}

/* What a filter matched in a part, written to why; false: nothing. */
static bool filter_hit(const struct filters *f, const struct ward_mail_part_result *pr, char *why,
                       size_t cap)
{
    if (f->max_size && pr->size > f->max_size) {
        snprintf(why, cap, "size %llu", (unsigned long long)pr->size);
        return true;
    }
    for (size_t i = 0; f->re && i < pr->n_names; i++)
        if (regexec(f->re, pr->names[i], 0, NULL, 0) == 0) {
            snprintf(why, cap, "name %s", pr->names[i]);
            return true;
        }
    for (size_t i = 0; f->types && *f->types && i < pr->n_types; i++)
        if (type_listed(f->types, pr->types[i])) {
            snprintf(why, cap, "type %s", pr->types[i]);
            return true;
        }
    return false;
}

/* Append s to the names list once, cut at the list's size. */
static void add_name(char *names, size_t cap, const char *s)
{
    size_t len = strlen(names), k = strlen(s);
    for (const char *p = names; (p = strstr(p, s)) != NULL; p += k)
        if ((p == names || p[-1] == ' ') && (p[k] == ',' || p[k] == 0))
            return;
    if (len + k + 3 >= cap)
        return;
    snprintf(names + len, cap - len, "%s%s", len ? ", " : "", s);
}

/* Is part (or one of its ancestors) being removed? */
static bool gone(const ward_mime *m, const bool *rm, uint32_t part)
{
    while (part != WARD_MIME_NONE && part < m->n_parts) {
        if (rm[part])
            return true;
        part = m->parts[part].parent;
    }
    return false;
}

struct tally {
    bool infected, suspicious, filtered, notscanned, protected;
};

static enum ward_mail_status status_of(const struct tally *t, bool cleaned)
{
    if (t->infected)
        return WARD_MAIL_INFECTED;
    if (t->suspicious)
        return WARD_MAIL_SUSPICIOUS;
    if (t->filtered)
        return WARD_MAIL_FILTERED;
    if (t->notscanned)
        return WARD_MAIL_NOTSCANNED;
    if (t->protected)
        return WARD_MAIL_PROTECTED;
    return cleaned ? WARD_MAIL_CLEANED : WARD_MAIL_CLEAN;
}

/* Count findings outside the removed parts (rm NULL: all). */
static void tally(const struct ward_judge_in *in, const bool *rm, const bool *filtered,
                  struct tally *t)
{
    const struct ward_mail_scan *s = in->scan;
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < s->n_det; i++) {
        const struct ward_mail_detection *d = &s->det[i];
        if (rm && gone(in->mime, rm, d->part))
            continue;
        if (d->verdict == WARD_VERDICT_INFECTED)
            t->infected = true;
        else if (d->verdict == WARD_VERDICT_SUSPICIOUS)
            t->suspicious = true;
        else if (d->verdict == WARD_VERDICT_NOT_SCANNED && d->reason == WARD_REASON_ENCRYPTED)
            t->protected = true;
        else if (d->verdict == WARD_VERDICT_NOT_SCANNED)
            t->notscanned = true;
    }
    for (size_t i = 0; i < s->n_parts; i++) {
        const struct ward_mail_part_result *pr = &s->parts[i];
        if (rm && gone(in->mime, rm, pr->part))
            continue;
        t->filtered |= filtered[i];
        t->protected |= pr->protected;
        /* a part's verdict without a detection still counts: never clean by omission */
        t->infected |= pr->verdict == WARD_VERDICT_INFECTED;
        t->suspicious |= pr->verdict == WARD_VERDICT_SUSPICIOUS;
        t->notscanned |= pr->verdict == WARD_VERDICT_NOT_SCANNED && !pr->protected;
    }
    if (!rm) {
        t->infected |= s->verdict == WARD_VERDICT_INFECTED;
        t->suspicious |= s->verdict == WARD_VERDICT_SUSPICIOUS;
        t->notscanned |= s->verdict == WARD_VERDICT_NOT_SCANNED && !s->protected && !t->protected;
    }
    t->protected |= s->protected;
    t->notscanned |= in->mime->truncated;
}

/* Mark the parts cleaning removes; false when some infected content cannot be removed. */
static bool mark_removals(const struct ward_judge_in *in, const bool *filtered, bool *rm)
{
    const ward_mime *m = in->mime;
    const struct ward_mail_scan *s = in->scan;
    bool all = true;
    for (size_t i = 0; i < s->n_det; i++) {
        const struct ward_mail_detection *d = &s->det[i];
        if (d->verdict != WARD_VERDICT_INFECTED)
            continue;
        if (d->part >= m->n_parts || (d->part == 0 && !ward_mime_is_leaf(&m->parts[0])))
            all = false; /* the raw message as a whole: nothing smaller to remove */
        else
            rm[d->part] = true;
    }
    for (size_t i = 0; i < s->n_parts; i++) {
        const struct ward_mail_part_result *pr = &s->parts[i];
        if ((filtered[i] || pr->verdict == WARD_VERDICT_INFECTED) && pr->part < m->n_parts)
            rm[pr->part] = true;
    }
    /* a part inside a removed one goes with it (edits must not overlap) */
    for (uint32_t i = 0; i < m->n_parts; i++)
        if (rm[i] && m->parts[i].parent != WARD_MIME_NONE && gone(m, rm, m->parts[i].parent))
            rm[i] = false;
    return all;
}

static const char *action_key(enum ward_mail_status s)
{
    switch (s) {
    case WARD_MAIL_INFECTED:
        return "action_av_infected";
    case WARD_MAIL_SUSPICIOUS:
        return "action_av_suspicious";
    case WARD_MAIL_NOTSCANNED:
        return "action_av_notscanned";
    case WARD_MAIL_PROTECTED:
        return "action_av_protected";
    case WARD_MAIL_FILTERED:
        return "action_filtered";
    case WARD_MAIL_CLEANED:
        return "action_av_deleted";
    default:
        return NULL;
    }
}

static const char *quarantine_key(enum ward_mail_status s)
{
    switch (s) {
    case WARD_MAIL_INFECTED:
    case WARD_MAIL_CLEANED:
        return "quarantine_infected";
    case WARD_MAIL_SUSPICIOUS:
        return "quarantine_suspicious";
    case WARD_MAIL_NOTSCANNED:
    case WARD_MAIL_PROTECTED:
        return "quarantine_notscanned";
    case WARD_MAIL_FILTERED:
        return "quarantine_filtered";
    default:
        return NULL;
    }
}

/* %VIRUSNAME% for the status: what made the message what it is. */
static void collect_names(const struct ward_judge_in *in, const bool *filtered,
                          const char *const *why, struct ward_judgement *j)
{
    const struct ward_mail_scan *s = in->scan;
    enum ward_mail_status st = j->status;
    for (size_t i = 0; i < s->n_det; i++) {
        const struct ward_mail_detection *d = &s->det[i];
        bool want = false;
        switch (st) {
        case WARD_MAIL_INFECTED:
        case WARD_MAIL_SUSPICIOUS:
        case WARD_MAIL_CLEANED:
            want = d->verdict == WARD_VERDICT_INFECTED || d->verdict == WARD_VERDICT_SUSPICIOUS;
            break;
        case WARD_MAIL_NOTSCANNED:
        case WARD_MAIL_PROTECTED:
            want = d->verdict == WARD_VERDICT_NOT_SCANNED;
            break;
        default:
            break;
        }
        if (want && st == WARD_MAIL_PROTECTED && d->reason == WARD_REASON_ENCRYPTED && d->path)
            add_name(j->names, sizeof j->names, d->path); /* which archive: its path */
        else if (want && d->verdict == WARD_VERDICT_NOT_SCANNED)
            add_name(j->names, sizeof j->names, ward_reason_name(d->reason));
        else if (want)
            add_name(j->names, sizeof j->names, d->name ? d->name : "unknown");
    }
    if (st == WARD_MAIL_FILTERED || st == WARD_MAIL_CLEANED)
        for (size_t i = 0; i < s->n_parts; i++)
            if (filtered[i])
                add_name(j->names, sizeof j->names, why[i]);
    if (!j->names[0] && (st == WARD_MAIL_NOTSCANNED || st == WARD_MAIL_PROTECTED))
        add_name(j->names, sizeof j->names, st == WARD_MAIL_PROTECTED ? "encrypted" : "limit");
}

static void finish(const struct ward_policy *p, struct ward_judgement *j)
{
    const char *k = action_key(j->status);
    j->action = k ? (enum ward_mail_action)ward_policy_enum(p, k) : WARD_MAIL_ACCEPT;
    k = quarantine_key(j->found);
    j->quarantine = k && ward_policy_bool(p, "av_quarantine") && ward_policy_bool(p, k);
}

ward_err ward_judge(const struct ward_policy *p, const struct ward_judge_in *in,
                    struct ward_judgement *j, struct ward_diag *diag)
{
    memset(j, 0, sizeof *j);
    unsigned av = ward_policy_enum(p, "action_av"); /* scan|accept|defer|discard|reject */
    if (av != 0) {
        j->status = j->found = WARD_MAIL_UNSCANNED;
        j->action = (enum ward_mail_action)(av - 1);
        return WARD_OK;
    }
    if (!in->scan || !in->mime) {
        j->status = j->found = WARD_MAIL_NOTSCANNED;
        snprintf(j->names, sizeof j->names, "%s", in->too_big ? "limit" : "error");
        finish(p, j);
        return WARD_OK;
    }

    const struct ward_mail_scan *s = in->scan;
    struct filters f;
    ward_err err = filters_init(&f, p, diag);
    if (err)
        return err;
    bool *filtered = calloc(s->n_parts + 1, sizeof *filtered);
    char(*why)[128] = calloc(s->n_parts + 1, sizeof *why);
    const char **whyp = calloc(s->n_parts + 1, sizeof *whyp);
    bool *rm = calloc(in->mime->n_parts + 1, sizeof *rm);
    if (!filtered || !why || !whyp || !rm) {
        err = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->n_parts; i++) {
        filtered[i] = filter_hit(&f, &s->parts[i], why[i], sizeof why[i]);
        whyp[i] = why[i];
    }

    struct tally t;
    tally(in, NULL, filtered, &t);
    j->found = j->status = status_of(&t, false);
    bool cleanable = j->found == WARD_MAIL_INFECTED || j->found == WARD_MAIL_FILTERED ||
                     t.infected || t.filtered;
    if (cleanable && ward_policy_bool(p, "av_clean_mode") && mark_removals(in, filtered, rm)) {
        tally(in, rm, filtered, &t);
        j->status = status_of(&t, true);
        for (uint32_t i = 0; i < in->mime->n_parts; i++)
            j->n_remove += rm[i];
        j->remove = calloc(j->n_remove + 1, sizeof *j->remove);
        if (!j->remove) {
            err = ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
            goto out;
        }
        size_t k = 0;
        for (uint32_t i = 0; i < in->mime->n_parts; i++)
            if (rm[i])
                j->remove[k++] = i;
    }
    collect_names(in, filtered, whyp, j);
    finish(p, j);
out:
    free(filtered);
    free(why);
    free(whyp);
    free(rm);
    return err;
}

void ward_judgement_free(struct ward_judgement *j)
{
    free(j->remove);
    j->remove = NULL;
    j->n_remove = 0;
}

/* Copy s into a reply: printable ASCII only (names may come from the message). */
static void safe_copy(char *out, size_t cap, const char *s)
{
    size_t k = 0;
    for (; s && *s && k + 1 < cap; s++)
        out[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[k] = 0;
}

void ward_judge_reply(const struct ward_judgement *j, const struct ward_judge_in *in, char *out,
                      size_t cap)
{
    char names[200];
    safe_copy(names, sizeof names, j->names);
    (void)in;
    const char *what;
    switch (j->status) {
    case WARD_MAIL_INFECTED:
        what = "virus found";
        break;
    case WARD_MAIL_SUSPICIOUS:
        what = "suspicious content found";
        break;
    case WARD_MAIL_FILTERED:
        what = "attachment not allowed";
        break;
    case WARD_MAIL_NOTSCANNED:
        what = "message could not be scanned";
        break;
    case WARD_MAIL_PROTECTED:
        what = "password-protected archive";
        break;
    case WARD_MAIL_CLEANED:
        what = "infected parts removed";
        break;
    case WARD_MAIL_UNSCANNED:
        what = "refused by policy";
        break;
    default:
        what = "";
        break;
    }
    const char *sep = names[0] ? " (" : "", *end = names[0] ? ")" : "";
    switch (j->action) {
    case WARD_MAIL_ACCEPT:
    case WARD_MAIL_DISCARD:
        /* a discard looks like a delivery to the client, as Postfix's DISCARD does */
        if (j->status == WARD_MAIL_CLEAN || j->status == WARD_MAIL_UNSCANNED ||
            j->action == WARD_MAIL_DISCARD)
            snprintf(out, cap, "250 2.0.0 Ok");
        else
            snprintf(out, cap, "250 2.0.0 Ok: %s%s%s%s", what, sep, names, end);
        break;
    case WARD_MAIL_DEFER:
        snprintf(out, cap, "451 %s Message deferred: %s%s%s%s, try again later",
                 j->status == WARD_MAIL_NOTSCANNED ? "4.7.0" : "4.7.1",
                 j->status == WARD_MAIL_CLEAN ? "by policy" : what, sep, names, end);
        break;
    case WARD_MAIL_REJECT:
        snprintf(out, cap, "550 %s Message rejected: %s%s%s%s",
                 j->status == WARD_MAIL_NOTSCANNED ? "5.7.0" : "5.7.1",
                 j->status == WARD_MAIL_CLEAN ? "by policy" : what, sep, names, end);
        break;
    }
}
