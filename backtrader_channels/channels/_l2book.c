/*
 * _l2book: the compiled L2 order book of backtrader_channels.channels.l2book.
 *
 * The contract (rules, API, stop codes) is documented in l2book.py; the pure-Python PyL2Book
 * there must give the same book bit for bit. Keep the two in step.
 *
 * Storage: one sorted array of prices (ascending, exact float equality, as the dict keys of
 * OrderBookChannel) and a parallel array of sizes per side. The live elements are the slice
 * [lo, hi) of a buffer with slack at both ends, so an insert or delete moves the shorter side
 * of the array: updates near either end (the best bid is the last bid, the best ask the first
 * ask) and snapshots in either order cost O(1) moves, lookups O(log n).
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

typedef struct {
    double *p; /* prices, ascending in [lo, hi) */
    double *s; /* sizes */
    Py_ssize_t lo, hi, cap;
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

/* ---- one side ---------------------------------------------------------------------------- */

static void side_free(Side *sd) {
    PyMem_Free(sd->p);
    PyMem_Free(sd->s);
    sd->p = sd->s = NULL;
    sd->lo = sd->hi = sd->cap = 0;
}

static void side_clear(Side *sd) { sd->lo = sd->hi = sd->cap / 2; }

/* first index in [a, b) whose price is >= key (b when none); branchless binary search */
static inline Py_ssize_t lower_in(const double *p, Py_ssize_t a, Py_ssize_t b, double key) {
    Py_ssize_t n = b - a;
    if (n <= 0)
        return a;
    const double *base = p + a;
    while (n > 1) {
        Py_ssize_t half = n >> 1;
        base = base[half - 1] < key ? base + half : base;
        n -= half;
    }
    return (base - p) + (*base < key);
}

/* first index in [lo, hi) whose price is >= key (hi when none); key is not NaN.
 * Book prices are close to evenly spaced (a tick grid with holes), so the search starts at the
 * interpolated position and gallops from there: O(log distance) instead of O(log n). Any other
 * distribution still costs O(log n); the answer is the same either way. */
static inline Py_ssize_t side_lower(const Side *sd, double key) {
    Py_ssize_t lo = sd->lo, hi = sd->hi, n = hi - lo;
    const double *p = sd->p;
    if (n < 16)
        return lower_in(p, lo, hi, key);
    double first = p[lo], last = p[hi - 1];
    if (key <= first)
        return lo;
    if (key > last)
        return hi;
    double frac = (key - first) / (last - first); /* first < key <= last */
    if (!(frac >= 0.0 && frac <= 1.0))            /* infinities: NaN or out of range */
        return lower_in(p, lo, hi, key);
    Py_ssize_t g = lo + (Py_ssize_t)(frac * (double)(n - 1));
    if (g < lo)
        g = lo;
    if (g > hi - 1)
        g = hi - 1;
    Py_ssize_t a, b, step = 1;
    if (p[g] < key) { /* the answer is in (g, hi - 1]; p[hi - 1] >= key */
        a = g + 1;
        for (;;) {
            b = a + step - 1;
            if (b >= hi - 1) {
                b = hi - 1;
                break;
            }
            if (p[b] >= key)
                break;
            a = b + 1;
            step <<= 1;
        }
        return lower_in(p, a, b + 1, key); /* p[b] >= key */
    }
    b = g; /* p[b] >= key; p[lo] < key */
    for (;;) {
        a = b - step;
        if (a <= lo) {
            a = lo;
            break;
        }
        if (p[a] < key)
            break;
        b = a;
        step <<= 1;
    }
    return lower_in(p, a + 1, b + 1, key); /* p[a] < key <= p[b] */
}

static inline int side_find(const Side *sd, double key, Py_ssize_t *at) {
    Py_ssize_t i = side_lower(sd, key);
    *at = i;
    return i < sd->hi && sd->p[i] == key;
}

/* re-centre the elements in a buffer of twice the capacity; -1 (MemoryError set) on failure */
static int side_grow(Side *sd) {
    Py_ssize_t n = sd->hi - sd->lo;
    Py_ssize_t cap = sd->cap ? sd->cap * 2 : 64;
    if (cap > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(double) / 2) {
        PyErr_NoMemory();
        return -1;
    }
    double *p = PyMem_Malloc((size_t)cap * sizeof(double));
    double *s = PyMem_Malloc((size_t)cap * sizeof(double));
    if (p == NULL || s == NULL) {
        PyMem_Free(p);
        PyMem_Free(s);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t lo = (cap - n) / 2;
    if (n) {
        memcpy(p + lo, sd->p + sd->lo, (size_t)n * sizeof(double));
        memcpy(s + lo, sd->s + sd->lo, (size_t)n * sizeof(double));
    }
    PyMem_Free(sd->p);
    PyMem_Free(sd->s);
    sd->p = p;
    sd->s = s;
    sd->lo = lo;
    sd->hi = lo + n;
    sd->cap = cap;
    return 0;
}

/* insert (price, size) before index i (side_lower's answer); -1 on MemoryError */
static int side_insert(Side *sd, Py_ssize_t i, double price, double size) {
    if (sd->lo == 0 && sd->hi == sd->cap) {
        Py_ssize_t off = i - sd->lo;
        if (side_grow(sd) < 0)
            return -1;
        i = sd->lo + off;
    }
    int left = sd->lo > 0 && (i - sd->lo <= sd->hi - i || sd->hi == sd->cap);
    if (left) {
        Py_ssize_t k = i - sd->lo;
        memmove(sd->p + sd->lo - 1, sd->p + sd->lo, (size_t)k * sizeof(double));
        memmove(sd->s + sd->lo - 1, sd->s + sd->lo, (size_t)k * sizeof(double));
        sd->lo--;
        i--;
    } else {
        Py_ssize_t k = sd->hi - i;
        memmove(sd->p + i + 1, sd->p + i, (size_t)k * sizeof(double));
        memmove(sd->s + i + 1, sd->s + i, (size_t)k * sizeof(double));
        sd->hi++;
    }
    sd->p[i] = price;
    sd->s[i] = size;
    return 0;
}

static void side_delete(Side *sd, Py_ssize_t i) {
    if (i - sd->lo < sd->hi - 1 - i) {
        Py_ssize_t k = i - sd->lo;
        memmove(sd->p + sd->lo + 1, sd->p + sd->lo, (size_t)k * sizeof(double));
        memmove(sd->s + sd->lo + 1, sd->s + sd->lo, (size_t)k * sizeof(double));
        sd->lo++;
    } else {
        Py_ssize_t k = sd->hi - 1 - i;
        memmove(sd->p + i, sd->p + i + 1, (size_t)k * sizeof(double));
        memmove(sd->s + i, sd->s + i + 1, (size_t)k * sizeof(double));
        sd->hi--;
    }
}

/* set an absolute size; 0 deletes (a no-op for an unknown level). Returns 1 when a level was
 * set or deleted, 0 for a no-op, -1 on MemoryError. A NaN price is ignored (returns 0). */
static inline int side_set(Side *sd, double price, double size) {
    Py_ssize_t i;
    if (price != price)
        return 0;
    int found = side_find(sd, price, &i);
    if (size == 0.0) {
        if (!found)
            return 0;
        side_delete(sd, i);
        return 1;
    }
    if (found) {
        sd->s[i] = size;
        return 1;
    }
    return side_insert(sd, i, price, size) < 0 ? -1 : 1;
}

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
    for (Py_ssize_t j = s; j < e; j++) {
        int r = side_set(isb[j] ? &self->bids : &self->asks, px[j], sz[j]);
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
    b.has_bid = self->bids.hi > self->bids.lo;
    b.has_ask = self->asks.hi > self->asks.lo;
    b.bid = b.has_bid ? self->bids.p[self->bids.hi - 1] : 0.0;
    b.ask = b.has_ask ? self->asks.p[self->asks.lo] : 0.0;
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
    if (self->bids.hi == self->bids.lo)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(self->bids.p[self->bids.hi - 1]);
}

static PyObject *L2Book_best_ask(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->asks.hi == self->asks.lo)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(self->asks.p[self->asks.lo]);
}

static PyObject *L2Book_best_bid_size(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyFloat_FromDouble(self->bids.hi > self->bids.lo ? self->bids.s[self->bids.hi - 1]
                                                            : 0.0);
}

static PyObject *L2Book_best_ask_size(L2BookObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyFloat_FromDouble(self->asks.hi > self->asks.lo ? self->asks.s[self->asks.lo] : 0.0);
}

static PyObject *L2Book_size_at(L2BookObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"price", "is_bid", NULL};
    double price;
    int is_bid;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "dp:size_at", kwlist, &price, &is_bid))
        return NULL;
    Side *sd = is_bid ? &self->bids : &self->asks;
    Py_ssize_t i;
    if (price == price && side_find(sd, price, &i))
        return PyFloat_FromDouble(sd->s[i]);
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
    Py_ssize_t have = sd->hi - sd->lo;
    if (n > have)
        n = have;
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t i = bids ? sd->hi - 1 - k : sd->lo + k;
        PyObject *t = pair(sd->p[i], sd->s[i]);
        if (t == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, k, t);
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
    return Py_BuildValue("(nn)", self->bids.hi - self->bids.lo, self->asks.hi - self->asks.lo);
}

static PyObject *side_dict(const Side *sd, int bids) {
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    Py_ssize_t n = sd->hi - sd->lo;
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t i = bids ? sd->hi - 1 - k : sd->lo + k;
        PyObject *p = PyFloat_FromDouble(sd->p[i]), *s = PyFloat_FromDouble(sd->s[i]);
        int r = (p && s) ? PyDict_SetItem(d, p, s) : -1;
        Py_XDECREF(p);
        Py_XDECREF(s);
        if (r < 0) {
            Py_DECREF(d);
            return NULL;
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
                                self->bids.hi - self->bids.lo, self->asks.hi - self->asks.lo,
                                self->synced ? "True" : "False");
}

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
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "backtrader_channels.channels._l2book.L2Book",
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
    PyModuleDef_HEAD_INIT, "_l2book", "Compiled L2 order book.", -1, NULL, NULL, NULL, NULL,
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
