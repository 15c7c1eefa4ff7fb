/* parts.c - order and gap checks of split signatures (see parts.h). */
#include "engine/parts.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Where the prefix up to one part can end. */
struct slot {
    uint64_t earliest; /* UINT64_MAX: none yet */
    uint64_t ring[WARD_PARTS_RING];
    uint8_t n, head;   /* ring entries, next write position */
    uint8_t dropped;   /* the ring overflowed: a completion is only possible */
};

struct state {
    uint32_t pat;
    uint32_t n_slots;
    struct slot slots[]; /* one per part but the last */
};

struct entry {
    uint32_t key; /* pattern + 1; 0 is empty */
    struct state *st;
};

struct ward_parts {
    struct entry *tab;
    uint32_t cap, used;
};

ward_err ward_parts_new(struct ward_parts **out)
{
    struct ward_parts *t = calloc(1, sizeof *t);
    if (!t)
        return WARD_ERR_NOMEM;
    t->cap = 64;
    t->tab = calloc(t->cap, sizeof *t->tab);
    if (!t->tab) {
        free(t);
        return WARD_ERR_NOMEM;
    }
    *out = t;
    return WARD_OK;
}

void ward_parts_reset(struct ward_parts *t)
{
    if (!t->used)
        return;
    for (uint32_t i = 0; i < t->cap; i++) {
        free(t->tab[i].st);
        t->tab[i].st = NULL;
        t->tab[i].key = 0;
    }
    t->used = 0;
}

void ward_parts_free(struct ward_parts *t)
{
    if (!t)
        return;
    ward_parts_reset(t);
    free(t->tab);
    free(t);
}

static uint32_t slot_of(uint32_t key, uint32_t mask)
{
    return (key * 2654435761u) & mask;
}

static bool grow(struct ward_parts *t)
{
    uint32_t cap = t->cap * 2;
    struct entry *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return false;
    for (uint32_t i = 0; i < t->cap; i++) {
        if (!t->tab[i].key)
            continue;
        uint32_t s = slot_of(t->tab[i].key, cap - 1);
        while (tab[s].key)
            s = (s + 1) & (cap - 1);
        tab[s] = t->tab[i];
    }
    free(t->tab);
    t->tab = tab;
    t->cap = cap;
    return true;
}

/* The state of pattern `pat`; created only when `create`. */
static struct state *lookup(struct ward_parts *t, uint32_t pat, uint32_t n_parts, bool create)
{
    uint32_t key = pat + 1;
    uint32_t s = slot_of(key, t->cap - 1);
    while (t->tab[s].key) {
        if (t->tab[s].key == key)
            return t->tab[s].st;
        s = (s + 1) & (t->cap - 1);
    }
    if (!create)
        return NULL;
    if ((t->used + 1) * 2 > t->cap) {
        if (!grow(t))
            return NULL;
        return lookup(t, pat, n_parts, create);
    }
    uint32_t n_slots = n_parts - 1;
    struct state *st = malloc(sizeof *st + n_slots * sizeof(struct slot));
    if (!st)
        return NULL;
    st->pat = pat;
    st->n_slots = n_slots;
    for (uint32_t i = 0; i < n_slots; i++) {
        st->slots[i].earliest = UINT64_MAX;
        st->slots[i].n = st->slots[i].head = st->slots[i].dropped = 0;
    }
    t->tab[s].key = key;
    t->tab[s].st = st;
    t->used++;
    return st;
}

static void record(struct slot *sl, uint64_t end, bool unbounded_next)
{
    if (end < sl->earliest)
        sl->earliest = end;
    if (unbounded_next)
        return; /* only the earliest end matters before a `*` */
    if (sl->n == WARD_PARTS_RING)
        sl->dropped = 1;
    else
        sl->n++;
    sl->ring[sl->head] = end;
    sl->head = (uint8_t)((sl->head + 1) % WARD_PARTS_RING);
}

/*
 * Can a part starting in [s_lo, s_hi] follow a prefix recorded in `sl` with
 * a gap in [gmin, gmax]? The gap runs from a prefix end q to the start s.
 */
static bool follows(const struct slot *sl, uint64_t s_lo, uint64_t s_hi, uint32_t gmin,
                    uint32_t gmax)
{
    if (sl->earliest == UINT64_MAX || s_hi < gmin)
        return false;
    uint64_t q_max = s_hi - gmin;
    if (gmax == WARD_PAT_INF)
        return sl->earliest <= q_max;
    uint64_t q_min = s_lo > gmax ? s_lo - gmax : 0;
    for (uint8_t i = 0; i < sl->n; i++) {
        uint64_t q = sl->ring[i];
        if (q >= q_min && q <= q_max)
            return true;
    }
    return false;
}

enum ward_parts_result ward_parts_hit(struct ward_parts *t, const struct body_part *parts,
                                      uint32_t part, uint32_t pat, uint32_t n_parts,
                                      uint64_t end)
{
    const struct body_part *bp = &parts[part];
    if (n_parts < 2 || bp->index >= n_parts)
        return WARD_PARTS_NONE;
    uint64_t s_hi = end >= bp->min_len ? end - bp->min_len : 0;
    uint64_t s_lo = bp->max_len == WARD_PAT_INF || end < bp->max_len ? 0 : end - bp->max_len;
    bool last = (uint32_t)bp->index + 1 == n_parts;
    struct state *st = lookup(t, pat, n_parts, bp->index == 0);
    if (!st)
        return WARD_PARTS_NONE;
    bool possible = false;
    if (bp->index > 0) {
        const struct slot *prev = &st->slots[bp->index - 1];
        if (!follows(prev, s_lo, s_hi, bp->gap_min, bp->gap_max)) {
            /* an end dropped from the ring might have let it follow: record it
               as possible, and let the exact form decide */
            if (!prev->dropped || prev->earliest == UINT64_MAX)
                return WARD_PARTS_NONE;
            possible = true;
        }
        if (prev->dropped)
            possible = true;
    }
    if (last)
        return possible ? WARD_PARTS_POSSIBLE : WARD_PARTS_COMPLETE;
    struct slot *sl = &st->slots[bp->index];
    record(sl, end, parts[part + 1].gap_max == WARD_PAT_INF);
    if (possible)
        sl->dropped = 1;
    return WARD_PARTS_NONE;
}
