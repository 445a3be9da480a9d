/*
 * _l2book: the compiled L2 order book of backtrader_channels.channels.l2book.
 *
 * The contract (rules, API, stop codes) is documented in l2book.py; the pure-Python PyL2Book
 * there must give the same book bit for bit. Keep the two in step.
 *
 * Storage, per side: the levels in price order (ascending, exact float equality, as the dict
 * keys of OrderBookChannel) in blocks of BLK levels, with a directory of the blocks and each
 * block's first price. An insert or delete moves at most one block's levels (a full block
 * splits, a nearly empty one merges with a neighbour); a lookup searches the directory, then
 * one block in BLK_LOG fixed steps. Within one apply call each side keeps the position of its
 * last row: a message's rows come sorted by price, so the next row's level is usually a few
 * levels on (counted with SSE2 where the compiler has it, else a plain loop). The best bid is
 * the last level of the last block, the best ask the first of the first. (It replaced a single
 * sorted array whose inserts and deletes moved ~250 levels each on a ~2,300-level book: 2.6x
 * faster on the market-making benchmark's 8.6M level updates, the same books bit for bit.)
 *
 * Input arrays are read through the buffer protocol (no numpy build dependency): 1-d,
 * C-contiguous, format 'B'/'?' (uint8), 'd' (float64), 'l'/'q' of 8 bytes (int64).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NO_ID INT64_MIN

#define BLK 64    /* levels per block (a power of two: the in-block search takes BLK_LOG steps) */
#define BLK_LOG 6

/* one block: n levels ascending in p[0..n), p[n..BLK) = +inf (padding for the fixed-step
 * search; a key is never NaN, so +inf never compares < key) */
typedef struct Block {
    int n;
    struct Block *next; /* free list link */
    double p[BLK + 16]; /* p[BLK..BLK+16) stays +inf (the searches read up to there) */
    double s[BLK];
} Block;

typedef struct {
    Block **b;       /* directory: blocks in price order, all non-empty */
    double *first;   /* first[k] = b[k]->p[0] */
    Py_ssize_t nb;   /* blocks in use */
    Py_ssize_t dcap; /* directory capacity */
    Py_ssize_t n;    /* levels */
    Py_ssize_t hint; /* block of the last lookup (a starting point only) */
    int hpos;        /* position of the last insert in its block (side_insert's answer) */
    Block *free;     /* spare blocks */
} Side;

typedef struct {
    PyObject_HEAD
    Side bids, asks;
    char require_snapshot;
    char synced;
    char has_last;
    long long last_id;
    long long refused_stale, refused_gap, refused_unsynced;
    long long gap_from, gap_to, applied;
    int last_stop;
} L2BookObject;

/* ---- one side: a blocked sorted array ----------------------------------------------------
 *
 * Levels ascending in blocks of at most BLK; the directory holds the blocks in order and the
 * first price of each. A lookup finds the block (from the last block used, as a message's rows
 * come sorted by price, else a branchless search of the directory) and the position in the
 * block (BLK_LOG + 1 branchless steps over the +inf-padded block). An insert or delete moves at
 * most BLK - 1 levels; a full block splits (a new block when the insert is past either end of
 * the side), an empty one leaves the directory, a small one merges with a neighbour. */

static void side_free(Side *sd) {
    for (Py_ssize_t k = 0; k < sd->nb; k++)
        PyMem_Free(sd->b[k]);
    Block *f = sd->free;
    while (f) {
        Block *nx = f->next;
        PyMem_Free(f);
        f = nx;
    }
    PyMem_Free(sd->b);
    PyMem_Free(sd->first);
    sd->b = NULL;
    sd->first = NULL;
    sd->free = NULL;
    sd->nb = sd->dcap = sd->n = sd->hint = 0;
}

static inline void blk_pad(Block *bk, int from) {
    for (int i = from; i < BLK + 16; i++)
        bk->p[i] = Py_HUGE_VAL;
}

static void side_clear(Side *sd) {
    for (Py_ssize_t k = 0; k < sd->nb; k++) {
        Block *bk = sd->b[k];
        bk->next = sd->free;
        sd->free = bk;
    }
    for (Py_ssize_t q = 0; q < sd->nb; q++)
        sd->first[q] = Py_HUGE_VAL;
    sd->nb = sd->n = sd->hint = 0;
}

static Block *blk_new(Side *sd) {
    Block *bk = sd->free;
    if (bk)
        sd->free = bk->next;
    else {
        bk = PyMem_Malloc(sizeof(Block));
        if (bk == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
    }
    bk->n = 0;
    bk->next = NULL;
    blk_pad(bk, 0);
    return bk;
}

static void blk_release(Side *sd, Block *bk) {
    bk->next = sd->free;
    sd->free = bk;
}

/* make room for block bk at directory index k; -1 (MemoryError set) on failure */
static int dir_insert(Side *sd, Py_ssize_t k, Block *bk) {
    if (sd->nb == sd->dcap) {
        Py_ssize_t cap = sd->dcap ? sd->dcap * 2 : 16;
        if (cap > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(double)) {
            PyErr_NoMemory();
            return -1;
        }
        Block **nbp = PyMem_Realloc(sd->b, (size_t)cap * sizeof(Block *));
        if (nbp == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        sd->b = nbp;
        double *nf = PyMem_Realloc(sd->first, (size_t)(cap + 16) * sizeof(double));
        if (nf == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        sd->first = nf;
        for (Py_ssize_t q = sd->nb; q < cap + 16; q++)
            nf[q] = Py_HUGE_VAL;
        sd->dcap = cap;
    }
    memmove(sd->b + k + 1, sd->b + k, (size_t)(sd->nb - k) * sizeof(Block *));
    memmove(sd->first + k + 1, sd->first + k, (size_t)(sd->nb - k) * sizeof(double));
    sd->b[k] = bk;
    sd->first[k] = bk->p[0];
    sd->nb++;
    return 0;
}

static void dir_remove(Side *sd, Py_ssize_t k) {
    blk_release(sd, sd->b[k]);
    memmove(sd->b + k, sd->b + k + 1, (size_t)(sd->nb - k - 1) * sizeof(Block *));
    memmove(sd->first + k, sd->first + k + 1, (size_t)(sd->nb - k - 1) * sizeof(double));
    sd->nb--;
    sd->first[sd->nb] = Py_HUGE_VAL;
}

/* first index in [a, b) with first[i] > key (b when none); branchless */
static inline Py_ssize_t dir_upper(const double *f, Py_ssize_t a, Py_ssize_t b, double key) {
    Py_ssize_t n = b - a;
    if (n <= 0)
        return a;
    const double *base = f + a;
    while (n > 1) {
        Py_ssize_t half = n >> 1;
        base += (base[half - 1] <= key) * half;
        n -= half;
    }
    return (base - f) + (*base <= key);
}

/* the block that holds key or where it would go (the last with first <= key, else 0);
 * the side is not empty */
static inline Py_ssize_t side_block(Side *sd, double key) {
    const double *f = sd->first;
    Py_ssize_t nb = sd->nb, k = sd->hint;
    if (k >= nb)
        k = nb - 1;
    if (f[k] <= key) {
        if (k + 1 < nb && f[k + 1] <= key) {
            k++;
            if (k + 1 < nb && f[k + 1] <= key)
                k = dir_upper(f, k + 1, nb, key) - 1;
        }
    } else {
        Py_ssize_t u = dir_upper(f, 0, k, key);
        k = u ? u - 1 : 0;
    }
    sd->hint = k;
    return k;
}

#if defined(__SSE2__) && !defined(NO_SIMD)
#include <emmintrin.h>
/* levels of p[0..16) below key (p is +inf padded past the block) */
static inline int count16(const double *p, double key) {
    __m128d k = _mm_set1_pd(key);
    __m128i a = _mm_setzero_si128(), b = _mm_setzero_si128();
    for (int j = 0; j < 16; j += 4) {
        a = _mm_sub_epi64(a, _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(p + j), k)));
        b = _mm_sub_epi64(b, _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(p + j + 2), k)));
    }
    a = _mm_add_epi64(a, b);
    a = _mm_add_epi64(a, _mm_unpackhi_epi64(a, a));
    return (int)_mm_cvtsi128_si64(a);
}
/* entries of f[0..16) <= key (f is +inf padded past the directory) */
static inline int count16_le(const double *f, double key) {
    __m128d k = _mm_set1_pd(key);
    __m128i a = _mm_setzero_si128(), b = _mm_setzero_si128();
    for (int j = 0; j < 16; j += 4) {
        a = _mm_sub_epi64(a, _mm_castpd_si128(_mm_cmple_pd(_mm_loadu_pd(f + j), k)));
        b = _mm_sub_epi64(b, _mm_castpd_si128(_mm_cmple_pd(_mm_loadu_pd(f + j + 2), k)));
    }
    a = _mm_add_epi64(a, b);
    a = _mm_add_epi64(a, _mm_unpackhi_epi64(a, a));
    return (int)_mm_cvtsi128_si64(a);
}
/* levels of p[0..8) below key */
static inline int count8(const double *p, double key) {
    __m128d k = _mm_set1_pd(key);
    __m128i a = _mm_sub_epi64(_mm_setzero_si128(), _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(p), k)));
    __m128i b = _mm_sub_epi64(_mm_setzero_si128(), _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(p + 2), k)));
    a = _mm_sub_epi64(a, _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(p + 4), k)));
    b = _mm_sub_epi64(b, _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(p + 6), k)));
    a = _mm_add_epi64(a, b);
    a = _mm_add_epi64(a, _mm_unpackhi_epi64(a, a));
    return (int)_mm_cvtsi128_si64(a);
}
#else
static inline int count16(const double *p, double key) {
    int c = 0;
    for (int j = 0; j < 16; j++)
        c += p[j] < key;
    return c;
}
static inline int count16_le(const double *f, double key) {
    int c = 0;
    for (int j = 0; j < 16; j++)
        c += f[j] <= key;
    return c;
}
static inline int count8(const double *p, double key) {
    int c = 0;
    for (int j = 0; j < 8; j++)
        c += p[j] < key;
    return c;
}
#endif

/* the number of levels of bk below key (its lower bound), two levels of an 8-way search: the
 * last level of each run of 8 (independent loads), then the 8 levels of the run it names */
static inline int blk_lower(const Block *bk, double key) {
    const double *p = bk->p;
    int r = 0;
    for (int j = 7; j < BLK; j += 8)
        r += p[j] < key;
    return 8 * r + count8(p + 8 * r, key);
}

/* find key: *bk_at and *at the block and position (the insert point when absent); 1 if found.
 * An empty side gives block 0, position 0, 0. */
static inline int side_find2(Side *sd, double key, Py_ssize_t *bk_at, int *at) {
    if (sd->nb == 0) {
        *bk_at = 0;
        *at = 0;
        return 0;
    }
    Py_ssize_t k = side_block(sd, key);
    const Block *bk = sd->b[k];
    int i = blk_lower(bk, key);
    *bk_at = k;
    *at = i;
    return i < bk->n && bk->p[i] == key;
}

static inline int side_find(Side *sd, double key, Py_ssize_t *unused) {
    Py_ssize_t k;
    int i;
    (void)unused;
    return side_find2(sd, key, &k, &i);
}

/* insert (price, size) at position i of block k (side_find2's answer); -1 on MemoryError */
static int side_insert(Side *sd, Py_ssize_t k, int i, double price, double size) {
    if (sd->nb == 0) {
        Block *bk = blk_new(sd);
        if (bk == NULL)
            return -1;
        bk->p[0] = price;
        bk->s[0] = size;
        bk->n = 1;
        if (dir_insert(sd, 0, bk) < 0) {
            blk_release(sd, bk);
            return -1;
        }
        sd->n = 1;
        sd->hint = 0;
        sd->hpos = 0;
        return 0;
    }
    Block *bk = sd->b[k];
    if (bk->n == BLK) {
        if (i == BLK && k + 1 < sd->nb && sd->b[k + 1]->n < BLK) {
            k++; /* past the end of a full block: the front of the next one when it has room */
            bk = sd->b[k];
            i = 0;
        } else if (i == BLK || i == 0) {
            /* past the end (or before the start) of a full block: a block of its own */
            Block *nbk = blk_new(sd);
            if (nbk == NULL)
                return -1;
            nbk->p[0] = price;
            nbk->s[0] = size;
            nbk->n = 1;
            Py_ssize_t at = i ? k + 1 : k;
            if (dir_insert(sd, at, nbk) < 0) {
                blk_release(sd, nbk);
                return -1;
            }
            sd->n++;
            sd->hint = at;
            sd->hpos = 0;
            return 0;
        } else {
            /* split in half: the upper half to a new block after */
            Block *nbk = blk_new(sd);
            if (nbk == NULL)
                return -1;
            int h = BLK / 2;
            memcpy(nbk->p, bk->p + h, (size_t)(BLK - h) * sizeof(double));
            memcpy(nbk->s, bk->s + h, (size_t)(BLK - h) * sizeof(double));
            nbk->n = BLK - h;
            if (dir_insert(sd, k + 1, nbk) < 0) {
                blk_release(sd, nbk);
                return -1;
            }
            bk->n = h;
            blk_pad(bk, h);
            if (i > h) {
                k++;
                bk = nbk;
                i -= h;
            }
        }
    }
    int m = bk->n - i;
    memmove(bk->p + i + 1, bk->p + i, (size_t)m * sizeof(double));
    memmove(bk->s + i + 1, bk->s + i, (size_t)m * sizeof(double));
    bk->p[i] = price;
    bk->s[i] = size;
    bk->n++;
    if (i == 0)
        sd->first[k] = price;
    sd->n++;
    sd->hint = k;
    sd->hpos = i;
    return 0;
}

static int side_delete(Side *sd, Py_ssize_t k, int i) {
    Block *bk = sd->b[k];
    int m = bk->n - 1 - i;
    memmove(bk->p + i, bk->p + i + 1, (size_t)m * sizeof(double));
    memmove(bk->s + i, bk->s + i + 1, (size_t)m * sizeof(double));
    bk->n--;
    bk->p[bk->n] = Py_HUGE_VAL;
    sd->n--;
    if (bk->n == 0) {
        dir_remove(sd, k);
        return 1;
    }
    if (i == 0)
        sd->first[k] = bk->p[0];
    if (bk->n < BLK / 4) { /* merge with the smaller neighbour when the two fit in 3/4 */
        Py_ssize_t j = -1;
        if (k > 0)
            j = k - 1;
        if (k + 1 < sd->nb && (j < 0 || sd->b[k + 1]->n < sd->b[j]->n))
            j = k + 1;
        if (j >= 0 && sd->b[j]->n + bk->n <= BLK * 3 / 4) {
            Py_ssize_t lo = j < k ? j : k;
            Block *a = sd->b[lo], *c = sd->b[lo + 1];
            memcpy(a->p + a->n, c->p, (size_t)c->n * sizeof(double));
            memcpy(a->s + a->n, c->s, (size_t)c->n * sizeof(double));
            a->n += c->n;
            dir_remove(sd, lo + 1);
            return 1;
        }
    }
    return 0;
}

/* set an absolute size; 0 deletes (a no-op for an unknown level). Returns 1 when a level was
 * set or deleted, 0 for a no-op, -1 on MemoryError. A NaN price is ignored (returns 0). */
static inline int side_set(Side *sd, double price, double size) {
    Py_ssize_t k;
    int i;
    if (price != price)
        return 0;
    int found = side_find2(sd, price, &k, &i);
    if (size == 0.0) {
        if (!found)
            return 0;
        side_delete(sd, k, i);
        return 1;
    }
    if (found) {
        sd->b[k]->s[i] = size;
        return 1;
    }
    return side_insert(sd, k, i, price, size) < 0 ? -1 : 1;
}

/* A cursor for a run of rows on one side (apply_rows): the block and position just after the
 * last row's level, valid while every level before it is below the next key (a message's rows
 * come ascending by price). Then the lookup moves forward from it, else it searches afresh. */
typedef struct {
    Py_ssize_t k;
    int i;
    int ok;
    double last; /* every level before (k, i) is <= last, the previous row's price */
} Cursor;



#define STAT(x) ((void)0)
static inline int side_find_cur(Side *sd, Cursor *c, double key, Py_ssize_t *kk, int *ii) {
    STAT((S_nb += sd->nb, S_nbn++));
    if (c->ok && c->last < key) {
        Py_ssize_t k = c->k;
        int i = c->i;
        const double *f = sd->first;
        Py_ssize_t nb = sd->nb;
        const Block *bk;
        if (k + 1 < nb && f[k + 1] <= key) {
            STAT(S_move++);
            /* f[k + 1] <= key: the blocks ahead, 16 at a time (f is +inf padded) */
            int m = count16_le(f + k + 1, key);
            if (m == 16)
                k = dir_upper(f, k + 1, nb, key) - 1;
            else {
                k += m;
                if (k > nb - 1) /* key +inf: the +inf padding counted too */
                    k = nb - 1;
            }
            bk = sd->b[k];
            i = blk_lower(bk, key);
        } else {
            bk = sd->b[k];
            int n = count16(bk->p + i, key);
            i += n;
            STAT(S_same++);
            if (n == 16)
                STAT(S_far++);
            if (n == 16)
                i = blk_lower(bk, key);
        }
        sd->hint = k;
        *kk = k;
        *ii = i;
        return i < bk->n && bk->p[i] == key;
    }
    STAT(S_fresh++);
    return side_find2(sd, key, kk, ii);
}

/* side_set with a cursor (see Cursor) */
static inline int side_set_cur(Side *sd, Cursor *c, double price, double size) {
    Py_ssize_t k;
    int i;
    if (price != price)
        return 0;
    int found = side_find_cur(sd, c, price, &k, &i);
    c->last = price;
    c->k = k;
    if (found & (size != 0.0)) {
        sd->b[k]->s[i] = size;
        c->i = i + 1;
        c->ok = 1;
        return 1;
    }
    c->i = i;
    if (size == 0.0) {
        if (!found) {
            c->ok = sd->nb > 0;
            return 0;
        }
        c->ok = !side_delete(sd, k, i);
        return 1;
    }
    if (side_insert(sd, k, i, price, size) < 0)
        return -1;
    c->k = sd->hint;
    c->i = sd->hpos + 1;
    c->ok = 1;
    return 1;
}

/* best (last) bid and best (first) ask; the side is not empty */
static inline double side_max_p(const Side *sd) {
    const Block *bk = sd->b[sd->nb - 1];
    return bk->p[bk->n - 1];
}
static inline double side_max_s(const Side *sd) {
    const Block *bk = sd->b[sd->nb - 1];
    return bk->s[bk->n - 1];
}
static inline double side_min_p(const Side *sd) { return sd->b[0]->p[0]; }
static inline double side_min_s(const Side *sd) { return sd->b[0]->s[0]; }

/* ---- buffers ----------------------------------------------------------------------------- */

enum { K_U8, K_F64, K_I64 };

static const char *kind_name[] = {"uint8", "float64", "int64"};

static int format_ok(const char *fmt, int kind, Py_ssize_t itemsize) {
    if (fmt == NULL)
        fmt = "B";
    if (fmt[0] == '@')
        fmt++;
    if (fmt[0] == '\0' || fmt[1] != '\0')
        return 0;
    switch (kind) {
    case K_U8:
        return itemsize == 1 && (fmt[0] == 'B' || fmt[0] == '?');
    case K_F64:
        return itemsize == 8 && fmt[0] == 'd';
    default:
        return itemsize == 8 && (fmt[0] == 'l' || fmt[0] == 'q');
    }
}

/* a 1-d C-contiguous buffer of the kind; -1 with TypeError set on failure */
static int get_array(PyObject *obj, Py_buffer *view, int kind, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a 1-d C-contiguous %s array", name,
                     kind_name[kind]);
        return -1;
    }
    if (view->ndim != 1 || !format_ok(view->format, kind, view->itemsize)) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "%s must be a 1-d C-contiguous %s array", name,
                     kind_name[kind]);
        return -1;
    }
    return 0;
}

static void release_all(Py_buffer *views, int n) {
    for (int i = 0; i < n; i++)
        PyBuffer_Release(&views[i]);
}

/* the three row arrays; -1 with an error set on failure (nothing held) */
static int get_rows(PyObject *isb, PyObject *px, PyObject *sz, Py_buffer *v, Py_ssize_t *nrows) {
    if (get_array(isb, &v[0], K_U8, "is_bid") < 0)
        return -1;
    if (get_array(px, &v[1], K_F64, "price") < 0) {
        release_all(v, 1);
        return -1;
    }
    if (get_array(sz, &v[2], K_F64, "size") < 0) {
        release_all(v, 2);
        return -1;
    }
    *nrows = v[0].shape[0];
    if (v[1].shape[0] != *nrows || v[2].shape[0] != *nrows) {
        release_all(v, 3);
        PyErr_SetString(PyExc_ValueError, "is_bid, price and size must have the same length");
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the type ---------------------------------------------------------------------------- */

static void book_reset(L2BookObject *self) {
    side_clear(&self->bids);
    side_clear(&self->asks);
    self->synced = !self->require_snapshot;
    self->has_last = 0;
    self->last_id = 0;
    self->refused_stale = self->refused_gap = self->refused_unsynced = 0;
    self->gap_from = self->gap_to = self->applied = 0;
    self->last_stop = 0;
}

static int L2Book_init(L2BookObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"require_snapshot", NULL};
    int require = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:L2Book", kwlist, &require))
        return -1;
    self->require_snapshot = (char)require;
    book_reset(self);
    return 0;
}

static void L2Book_dealloc(L2BookObject *self) {
    side_free(&self->bids);
    side_free(&self->asks);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *L2Book_clear(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    book_reset(self);
    Py_RETURN_NONE;
}

static inline int is_watched(double price, const double *w, Py_ssize_t nw) {
    if (nw == 0 || price < w[0] || price > w[nw - 1])
        return 0;
    Py_ssize_t a = 0, b = nw;
    while (a < b) {
        Py_ssize_t mid = a + ((b - a) >> 1);
        if (w[mid] < price)
            a = mid + 1;
        else
            b = mid;
    }
    return a < nw && w[a] == price;
}

/* apply rows [s, e); sets *hit when a watched level was set or deleted; -1 on MemoryError */
static int apply_rows(L2BookObject *self, const uint8_t *isb, const double *px, const double *sz,
                      Py_ssize_t s, Py_ssize_t e, const double *w, Py_ssize_t nw, int *hit) {
    Cursor cur[2] = {{0, 0, 0, 0.0}, {0, 0, 0, 0.0}};
    for (Py_ssize_t j = s; j < e; j++) {
        int b = isb[j] != 0;
        int r = side_set_cur(b ? &self->bids : &self->asks, &cur[b], px[j], sz[j]);
        if (r < 0)
            return -1;
        if (r && nw && !*hit && is_watched(px[j], w, nw))
            *hit = 1;
    }
    return 0;
}

typedef struct {
    int has_bid, has_ask;
    double bid, ask;
} Best;

static inline Best best_of(const L2BookObject *self) {
    Best b;
    b.has_bid = self->bids.n > 0;
    b.has_ask = self->asks.n > 0;
    b.bid = b.has_bid ? side_max_p(&self->bids) : 0.0;
    b.ask = b.has_ask ? side_min_p(&self->asks) : 0.0;
    return b;
}

static inline int best_changed(Best a, Best b) {
    return a.has_bid != b.has_bid || a.has_ask != b.has_ask || (a.has_bid && a.bid != b.bid) ||
           (a.has_ask && a.ask != b.ask);
}

enum { V_START, V_TS, V_SNAP, V_FIRST, V_LAST, V_ISB, V_PX, V_SZ, V_WATCH, N_VIEWS };

/* the message loop over views already checked; returns the next message or -1 on error */
static Py_ssize_t run_messages(L2BookObject *self, Py_buffer *v, Py_ssize_t nrows, Py_ssize_t m0,
                               Py_ssize_t m1, const double *w, Py_ssize_t nw, int stop_on_best,
                               long long until_ts) {
    const int64_t *start = v[V_START].buf, *ts = v[V_TS].buf;
    const int64_t *first = v[V_FIRST].buf, *last = v[V_LAST].buf;
    const uint8_t *snap = v[V_SNAP].buf, *isb = v[V_ISB].buf;
    const double *px = v[V_PX].buf, *sz = v[V_SZ].buf;
    for (Py_ssize_t m = m0; m < m1; m++) {
        if (ts[m] >= until_ts) {
            self->last_stop = 1;
            return m;
        }
        int64_t s = start[m], e = start[m + 1];
        if (s < 0 || e < s || e > nrows) {
            PyErr_Format(PyExc_ValueError, "message %zd: rows %lld..%lld out of 0..%zd", m,
                         (long long)s, (long long)e, nrows);
            return -1;
        }
        int64_t lid = last[m];
        int hit = 0;
        Best before = best_of(self);
        if (snap[m]) {
            for (Py_ssize_t k = 0; k < nw && !hit; k++) {
                Py_ssize_t at;
                hit = side_find(&self->bids, w[k], &at) || side_find(&self->asks, w[k], &at);
            }
            side_clear(&self->bids);
            side_clear(&self->asks);
            self->synced = 1;
        } else if (!self->synced) {
            self->refused_unsynced++;
            continue;
        } else if (lid != NO_ID && self->has_last) {
            int64_t prev = self->last_id, fid = first[m];
            if (lid <= prev) {
                self->refused_stale++;
                continue;
            }
            if (fid != NO_ID && fid > prev && (uint64_t)fid - (uint64_t)prev > 1) {
                self->synced = 0;
                self->gap_from = prev + 1;
                self->gap_to = fid - 1;
                self->refused_gap++;
                self->last_stop = 4;
                return m + 1;
            }
        }
        if (apply_rows(self, isb, px, sz, (Py_ssize_t)s, (Py_ssize_t)e, w, nw, &hit) < 0)
            return -1;
        if (lid != NO_ID) {
            self->last_id = lid;
            self->has_last = 1;
        }
        self->applied++;
        if (hit) {
            self->last_stop = 3;
            return m + 1;
        }
        if (stop_on_best && best_changed(before, best_of(self))) {
            self->last_stop = 2;
            return m + 1;
        }
    }
    return m1;
}

static PyObject *L2Book_apply_messages(L2BookObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"msg_start", "ts", "snapshot", "first_id", "last_id", "is_bid",
                             "price", "size", "m0", "m1", "watch", "stop_on_best", "until_ts",
                             NULL};
    static const char *names[] = {"msg_start", "ts",   "snapshot", "first_id", "last_id",
                                  "is_bid",    "price", "size",    "watch"};
    static const int kinds[] = {K_I64, K_I64, K_U8, K_I64, K_I64, K_U8, K_F64, K_F64, K_F64};
    PyObject *obj[N_VIEWS];
    Py_ssize_t m0, m1;
    int stop_on_best = 0;
    long long until_ts = INT64_MAX;
    obj[V_WATCH] = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOOnn|OpL:apply_messages", kwlist,
                                     &obj[V_START], &obj[V_TS], &obj[V_SNAP], &obj[V_FIRST],
                                     &obj[V_LAST], &obj[V_ISB], &obj[V_PX], &obj[V_SZ], &m0, &m1,
                                     &obj[V_WATCH], &stop_on_best, &until_ts))
        return NULL;
    Py_buffer v[N_VIEWS];
    int nv = obj[V_WATCH] == Py_None ? V_WATCH : N_VIEWS;
    for (int i = 0; i < nv; i++) {
        if (get_array(obj[i], &v[i], kinds[i], names[i]) < 0) {
            release_all(v, i);
            return NULL;
        }
    }
    Py_ssize_t nrows = v[V_ISB].shape[0];
    if (v[V_PX].shape[0] != nrows || v[V_SZ].shape[0] != nrows) {
        release_all(v, nv);
        PyErr_SetString(PyExc_ValueError, "is_bid, price and size must have the same length");
        return NULL;
    }
    if (m0 < 0 || m1 < m0 || v[V_START].shape[0] < m1 + 1 || v[V_TS].shape[0] < m1 ||
        v[V_SNAP].shape[0] < m1 || v[V_FIRST].shape[0] < m1 || v[V_LAST].shape[0] < m1) {
        release_all(v, nv);
        PyErr_Format(PyExc_ValueError,
                     "messages %zd..%zd out of range of the message arrays", m0, m1);
        return NULL;
    }
    Py_ssize_t nw = nv == N_VIEWS ? v[V_WATCH].shape[0] : 0;
    double *w = NULL;
    if (nw) {
        w = PyMem_Malloc((size_t)nw * sizeof(double));
        if (w == NULL) {
            release_all(v, nv);
            return PyErr_NoMemory();
        }
        /* NaN never equals a price: drop them before sorting */
        const double *src = v[V_WATCH].buf;
        Py_ssize_t k = 0;
        for (Py_ssize_t i = 0; i < nw; i++)
            if (src[i] == src[i])
                w[k++] = src[i];
        nw = k;
        qsort(w, (size_t)nw, sizeof(double), cmp_double);
    }
    self->last_stop = 0;
    Py_ssize_t r = run_messages(self, v, nrows, m0, m1, w, nw, stop_on_best, until_ts);
    PyMem_Free(w);
    release_all(v, nv);
    if (r < 0)
        return NULL;
    return PyLong_FromSsize_t(r);
}

static PyObject *L2Book_apply_levels(L2BookObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"is_bid", "price", "size", "start", "end", NULL};
    PyObject *isb, *px, *sz;
    Py_ssize_t start, end, nrows;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOnn:apply_levels", kwlist, &isb, &px, &sz,
                                     &start, &end))
        return NULL;
    Py_buffer v[3];
    if (get_rows(isb, px, sz, v, &nrows) < 0)
        return NULL;
    if (start < 0 || end < start || end > nrows) {
        release_all(v, 3);
        PyErr_Format(PyExc_ValueError, "rows %zd..%zd out of 0..%zd", start, end, nrows);
        return NULL;
    }
    int hit = 0;
    int r = apply_rows(self, v[0].buf, v[1].buf, v[2].buf, start, end, NULL, 0, &hit);
    release_all(v, 3);
    if (r < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- reading ----------------------------------------------------------------------------- */

static PyObject *L2Book_best_bid(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->bids.n == 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(side_max_p(&self->bids));
}

static PyObject *L2Book_best_ask(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->asks.n == 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(side_min_p(&self->asks));
}

static PyObject *L2Book_best_bid_size(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyFloat_FromDouble(self->bids.n > 0 ? side_max_s(&self->bids) : 0.0);
}

static PyObject *L2Book_best_ask_size(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyFloat_FromDouble(self->asks.n > 0 ? side_min_s(&self->asks) : 0.0);
}

static PyObject *L2Book_size_at(L2BookObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"price", "is_bid", NULL};
    double price;
    int is_bid;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "dp:size_at", kwlist, &price, &is_bid))
        return NULL;
    Side *sd = is_bid ? &self->bids : &self->asks;
    Py_ssize_t k;
    int i;
    if (price == price && side_find2(sd, price, &k, &i))
        return PyFloat_FromDouble(sd->b[k]->s[i]);
    return PyFloat_FromDouble(0.0);
}

static PyObject *pair(double p, double s) {
    PyObject *a = PyFloat_FromDouble(p), *b = PyFloat_FromDouble(s);
    if (a == NULL || b == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        return NULL;
    }
    PyObject *t = PyTuple_Pack(2, a, b);
    Py_DECREF(a);
    Py_DECREF(b);
    return t;
}

/* up to n levels of a side, best first (step -1 from the end for bids, +1 for asks) */
static PyObject *side_list(const Side *sd, Py_ssize_t n, int bids) {
    Py_ssize_t have = sd->n;
    if (n > have)
        n = have;
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    Py_ssize_t bi = bids ? sd->nb - 1 : 0;
    int i = bids && n ? sd->b[bi]->n - 1 : 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        const Block *bk = sd->b[bi];
        PyObject *t = pair(bk->p[i], bk->s[i]);
        if (t == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, k, t);
        if (bids) {
            if (--i < 0 && --bi >= 0)
                i = sd->b[bi]->n - 1;
        } else if (++i == bk->n) {
            bi++;
            i = 0;
        }
    }
    return out;
}

static PyObject *L2Book_levels(L2BookObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"n", NULL};
    Py_ssize_t n = 10;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|n:levels", kwlist, &n))
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 0");
        return NULL;
    }
    PyObject *b = side_list(&self->bids, n, 1);
    if (b == NULL)
        return NULL;
    PyObject *a = side_list(&self->asks, n, 0);
    if (a == NULL) {
        Py_DECREF(b);
        return NULL;
    }
    PyObject *t = PyTuple_Pack(2, b, a);
    Py_DECREF(b);
    Py_DECREF(a);
    return t;
}

static PyObject *L2Book_depth(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    return Py_BuildValue("(nn)", self->bids.n, self->asks.n);
}

static PyObject *side_dict(const Side *sd, int bids) {
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (Py_ssize_t q = 0; q < sd->nb; q++) {
        const Block *bk = sd->b[bids ? sd->nb - 1 - q : q];
        for (int j = 0; j < bk->n; j++) {
            int i = bids ? bk->n - 1 - j : j;
            PyObject *p = PyFloat_FromDouble(bk->p[i]), *s = PyFloat_FromDouble(bk->s[i]);
            int r = (p && s) ? PyDict_SetItem(d, p, s) : -1;
            Py_XDECREF(p);
            Py_XDECREF(s);
            if (r < 0) {
                Py_DECREF(d);
                return NULL;
            }
        }
    }
    return d;
}

static PyObject *L2Book_bids_dict(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    return side_dict(&self->bids, 1);
}

static PyObject *L2Book_asks_dict(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    return side_dict(&self->asks, 0);
}

static PyObject *L2Book_get_last_update_id(L2BookObject *self, void *Py_UNUSED(closure)) {
    if (!self->has_last)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(self->last_id);
}

static PyObject *L2Book_get_synced(L2BookObject *self, void *Py_UNUSED(closure)) {
    return PyBool_FromLong(self->synced);
}

static PyObject *L2Book_get_require_snapshot(L2BookObject *self, void *Py_UNUSED(closure)) {
    return PyBool_FromLong(self->require_snapshot);
}

static PyObject *L2Book_repr(L2BookObject *self) {
    return PyUnicode_FromFormat("<L2Book (compiled) bids=%zd asks=%zd synced=%s>",
                                self->bids.n, self->asks.n,
                                self->synced ? "True" : "False");
}

#define mod_methods NULL

static PyMethodDef L2Book_methods[] = {
    {"clear", (PyCFunction)L2Book_clear, METH_NOARGS, "Empty the book and zero the counters."},
    {"apply_messages", (PyCFunction)(void (*)(void))L2Book_apply_messages,
     METH_VARARGS | METH_KEYWORDS, "Apply messages m0..m1-1; return the next message to apply."},
    {"apply_levels", (PyCFunction)(void (*)(void))L2Book_apply_levels,
     METH_VARARGS | METH_KEYWORDS, "Apply level rows start..end-1 with no id checks."},
    {"best_bid", (PyCFunction)L2Book_best_bid, METH_NOARGS, "Best bid price or None."},
    {"best_ask", (PyCFunction)L2Book_best_ask, METH_NOARGS, "Best ask price or None."},
    {"best_bid_size", (PyCFunction)L2Book_best_bid_size, METH_NOARGS, "Best bid size or 0.0."},
    {"best_ask_size", (PyCFunction)L2Book_best_ask_size, METH_NOARGS, "Best ask size or 0.0."},
    {"size_at", (PyCFunction)(void (*)(void))L2Book_size_at, METH_VARARGS | METH_KEYWORDS,
     "Size at a price on one side (0.0 when absent)."},
    {"levels", (PyCFunction)(void (*)(void))L2Book_levels, METH_VARARGS | METH_KEYWORDS,
     "Top n levels of each side, best first."},
    {"depth", (PyCFunction)L2Book_depth, METH_NOARGS, "(bid levels, ask levels)."},
    {"bids_dict", (PyCFunction)L2Book_bids_dict, METH_NOARGS, "Bids as {price: size}."},
    {"asks_dict", (PyCFunction)L2Book_asks_dict, METH_NOARGS, "Asks as {price: size}."},
    {NULL, NULL, 0, NULL}};

static PyMemberDef L2Book_members[] = {
    {"refused_stale", T_LONGLONG, offsetof(L2BookObject, refused_stale), READONLY, NULL},
    {"refused_gap", T_LONGLONG, offsetof(L2BookObject, refused_gap), READONLY, NULL},
    {"refused_unsynced", T_LONGLONG, offsetof(L2BookObject, refused_unsynced), READONLY, NULL},
    {"gap_from", T_LONGLONG, offsetof(L2BookObject, gap_from), READONLY, NULL},
    {"gap_to", T_LONGLONG, offsetof(L2BookObject, gap_to), READONLY, NULL},
    {"applied", T_LONGLONG, offsetof(L2BookObject, applied), READONLY, NULL},
    {"last_stop", T_INT, offsetof(L2BookObject, last_stop), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyGetSetDef L2Book_getset[] = {
    {"last_update_id", (getter)L2Book_get_last_update_id, NULL, NULL, NULL},
    {"synced", (getter)L2Book_get_synced, NULL, NULL, NULL},
    {"require_snapshot", (getter)L2Book_get_require_snapshot, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject L2BookType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_l2book.L2Book",
    .tp_doc = PyDoc_STR("Compiled L2 order book (see backtrader_channels.channels.l2book)."),
    .tp_basicsize = sizeof(L2BookObject),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)L2Book_init,
    .tp_dealloc = (destructor)L2Book_dealloc,
    .tp_repr = (reprfunc)L2Book_repr,
    .tp_methods = L2Book_methods,
    .tp_members = L2Book_members,
    .tp_getset = L2Book_getset,
};

static struct PyModuleDef l2book_module = {
    PyModuleDef_HEAD_INIT, "_l2book", "Compiled L2 order book.", -1, mod_methods, NULL, NULL, NULL,
    NULL};

PyMODINIT_FUNC PyInit__l2book(void) {
    if (PyType_Ready(&L2BookType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&l2book_module);
    if (m == NULL)
        return NULL;
    PyObject *no_id = PyLong_FromLongLong(NO_ID);
    if (no_id == NULL || PyModule_AddObjectRef(m, "L2Book", (PyObject *)&L2BookType) < 0 ||
        PyModule_AddObjectRef(m, "NO_ID", no_id) < 0) {
        Py_XDECREF(no_id);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(no_id);
    return m;
}
