/* Fused CPU kernels for LeNet-5's convolutional features (auditkit/classifiers/lenet_fused.py builds and loads this
 * file): conv1 -> ReLU -> 2x2 average pooling -> conv2 -> ReLU -> pooling, forward and backward.
 *
 * Why: on small convolutions the cost is memory traffic and badly filled vectors, not arithmetic. PyTorch runs each
 * layer as a pass over the whole batch, so every activation leaves the cache between layers, and oneDNN fills its
 * vectors badly with conv2's 6 input channels. Here one call runs all the layers image by image: an image's
 * activations stay in L1/L2, conv1's 6x62x62 output is never written (the backward needs only its ReLU masks, kept
 * as bits like conv2's), and conv2's input gradient goes straight into stage 1's weight gradient.
 *
 * Layouts: images (n, H, W) float32; stage 1's output planar (C1, h1, w1); conv2's outputs and output gradients
 * channels-last, VW output channels per vector (conv2 multiplies broadcast inputs by filter vectors); the features'
 * output planar, the order the dense head flattens in. Every loop over images handles [i0, i1) so the caller can
 * split a batch over threads; gradients are written per image and summed by sum_rows in image order, so results do
 * not depend on how the batch was split. Plain C11 with GCC/clang vector extensions, no OpenMP: the library carries
 * no runtime of its own.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAXW 1024 /* widest image row the kernels take */
#define C1 6      /* conv1 filters (Table 3): fixed so the channel loops unroll */
#define MAXC 256  /* most conv2 filters the kernels take */

/* VW floats per vector: a 512-bit register where the CPU has one, else 256-bit (-DVW=8 forces the latter, as the
 * tests do to check it on any machine). Loads and stores go through memcpy: unaligned, no aliasing rules broken. */
#ifndef VW
#ifdef __AVX512F__
#define VW 16
#else
#define VW 8
#endif
#endif
#if VW != 8 && VW != 16
#error "VW must be 8 or 16"
#endif
typedef float vec __attribute__((vector_size(VW * sizeof(float))));
typedef int ivec __attribute__((vector_size(VW * sizeof(int))));

static inline vec vload(const float *p) {
    vec v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void vstore(float *p, vec v) { memcpy(p, &v, sizeof v); }

/* The first count (<= VW) floats at p, the other lanes 0; and the first count lanes of v stored at p */
static inline vec vload_part(const float *p, int count) {
    if (count == VW) return vload(p); /* a whole vector: one load, not a memcpy call */
    vec v = {0};
    memcpy(&v, p, sizeof(float) * (size_t)count);
    return v;
}

static inline void vstore_part(float *p, vec v, int count) {
    if (count == VW)
        vstore(p, v);
    else
        memcpy(p, &v, sizeof(float) * (size_t)count);
}

/* v where z > 0, else 0: ReLU (v = z) and its derivative applied to an upstream gradient (v = gradient; 0 at z = 0,
 * as in PyTorch) */
static inline vec where_positive(vec z, vec v) {
    const vec zero = {0};
    return (vec)((ivec)v & (z > zero));
}

/* The sum of v's lanes by halving (a tree: a few vector adds instead of VW dependent scalar ones) */
static inline float lane_sum(vec v) {
    float t[VW];
    memcpy(t, &v, sizeof v);
    for (int w = VW / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) t[l] += t[l + w];
    return t[0];
}

static inline ptrdiff_t round_up(ptrdiff_t n, ptrdiff_t m) { return (n + m - 1) / m * m; }

/* Two-vector shuffles with constant lane indices (>= VW: the second vector's lanes), in either compiler's spelling */
#if defined(__clang__) || __GNUC__ >= 12
#define SHUFFLE2(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUFFLE2(a, b, ...) __builtin_shuffle(a, b, (ivec){__VA_ARGS__})
#endif
/* Lane l of rows i (LOW) and i + h (HIGH) after swapping bit h of the row index with bit h of the lane index */
#define LOW(h, l) (((l) & (h)) ? VW + (l) - (h) : (l))
#define HIGH(h, l) (((l) & (h)) ? VW + (l) : (l) + (h))
#if VW == 16
#define LANES(F, h) F(h, 0), F(h, 1), F(h, 2), F(h, 3), F(h, 4), F(h, 5), F(h, 6), F(h, 7), F(h, 8), F(h, 9), \
                    F(h, 10), F(h, 11), F(h, 12), F(h, 13), F(h, 14), F(h, 15)
#else
#define LANES(F, h) F(h, 0), F(h, 1), F(h, 2), F(h, 3), F(h, 4), F(h, 5), F(h, 6), F(h, 7)
#endif
#define SWAP_BIT(r, h)                                                 \
    for (int i = 0; i < VW; i++)                                       \
        if (!(i & (h))) {                                              \
            const vec a_ = r[i], b_ = r[i + (h)];                      \
            r[i] = SHUFFLE2(a_, b_, LANES(LOW, h));                    \
            r[i + (h)] = SHUFFLE2(a_, b_, LANES(HIGH, h));             \
        }

/* r[i][l] <- r[l][i]: a VW x VW tile transposed in registers (log2 VW rounds of two-vector shuffles), how these
 * kernels move data between channels-last and planar layouts without a scalar load and store per float */
static inline void transpose_tile(vec r[VW]) {
#if VW == 16
    SWAP_BIT(r, 8)
#endif
    SWAP_BIT(r, 4)
    SWAP_BIT(r, 2)
    SWAP_BIT(r, 1)
}

/* Lane l's bit (1 << l), and the lane h places further on (an index list for a rotation by h) */
#define BIT(h, l) (1 << (l))
#define ROT(h, l) (((l) + (h)) % VW)

/* The lanes of z that are > 0, as bits (lane l -> bit l): a ReLU mask in VW bits instead of VW floats. OR across
 * lanes by rotating and halving: a few vector ops (a scalar loop over lanes compiles to dozens). */
static inline unsigned positive_bits(vec z) {
    const vec zero = {0};
    const ivec bits = {LANES(BIT, 0)};
    ivec m = (z > zero) & bits;
#if VW == 16
    m |= SHUFFLE2(m, m, LANES(ROT, 8));
#endif
    m |= SHUFFLE2(m, m, LANES(ROT, 4));
    m |= SHUFFLE2(m, m, LANES(ROT, 2));
    m |= SHUFFLE2(m, m, LANES(ROT, 1));
    return (unsigned)m[0];
}

/* v where bit l of bits is set, else 0: the ReLU derivative from positive_bits applied to a gradient */
static inline vec where_bits(unsigned bits, vec v) {
    const ivec lane_bits = {LANES(BIT, 0)};
    const ivec m = ((ivec){0} + (int)bits) & lane_bits;
    return (vec)((ivec)v & (m != (ivec){0}));
}

/* Image xi's columns split by parity: xe[y][q] = x[y][2q], xo[y][q] = x[y][2q + 1], zero past the image; rows of qs.
 * With them the conv1 outputs under one pooling window are contiguous vectors along q, no gathers. */
static void split_columns(const float *xi, int H, int W, float *restrict xe, float *restrict xo, ptrdiff_t qs) {
    for (int y = 0; y < H; y++) {
        const float *row = xi + (size_t)y * W;
        float *e = xe + (size_t)y * qs, *o = xo + (size_t)y * qs;
        const ptrdiff_t half = W / 2;  /* whole (even, odd) pairs: a branch-free loop the compiler vectorizes */
        for (ptrdiff_t q = 0; q < half; q++) {
            e[q] = row[2 * q];
            o[q] = row[2 * q + 1];
        }
        for (ptrdiff_t q = half; q < qs; q++) e[q] = o[q] = 0.0f;
        if (W % 2) e[half] = row[W - 1];
    }
}

/* conv1 filter w (9 taps, bias b) at rows y, y + 1 and columns 2q, 2q + 1 for q in [q0, q0 + VW): the four
 * pre-activations under each pooling window. z[0] = (y, even), z[1] = (y, odd), z[2] = (y+1, even),
 * z[3] = (y+1, odd). */
static inline void conv_window(const float *xe, const float *xo, ptrdiff_t qs, int y, ptrdiff_t q0, const float *w,
                               float b, vec z[4]) {
    const vec zero = {0};
    vec a0 = zero + b, a1 = a0, a2 = a0, a3 = a0;
    for (int r = 0; r < 4; r++) {
        const float *e = xe + (size_t)(y + r) * qs + q0, *o = xo + (size_t)(y + r) * qs + q0;
        const vec E0 = vload(e), O0 = vload(o), E1 = vload(e + 1), O1 = vload(o + 1);
        /* one multiply-add per statement: "a += x * y + z * t" compiles to a multiply, an FMA and an add */
        if (r < 3) {
            const float *k = w + 3 * r;
            a0 += k[0] * E0; a0 += k[1] * O0; a0 += k[2] * E1;
            a1 += k[0] * O0; a1 += k[1] * E1; a1 += k[2] * O1;
        }
        if (r > 0) {
            const float *k = w + 3 * (r - 1);
            a2 += k[0] * E0; a2 += k[1] * O0; a2 += k[2] * E1;
            a3 += k[0] * O0; a3 += k[1] * E1; a3 += k[2] * O1;
        }
    }
    z[0] = a0, z[1] = a1, z[2] = a2, z[3] = a3;
}

/* Planar from channels-last: out[c * ld + k] = in[k * cp + c] for k < n, c < C (cp: in's row length, a whole
 * number of vectors), a VW x VW tile at a time. round_up(n, VW) floats of each plane are written (zeros past n)
 * when pad is VW, exactly n when pad is 1. */
static void planes_of(const float *in, int n, int cp, int C, float *out, size_t ld, int pad) {
    for (int k0 = 0; k0 < n; k0 += VW) {
        const int count = n - k0 < VW ? n - k0 : VW, stored = pad == VW ? VW : count;
        for (int b = 0; b < cp / VW; b++) {
            vec r[VW];
            for (int l = 0; l < VW; l++)
                r[l] = l < count ? vload(in + (size_t)(k0 + l) * cp + (size_t)b * VW) : (vec){0};
            transpose_tile(r);
            for (int l = 0; l < VW && b * VW + l < C; l++)
                vstore_part(out + (size_t)(b * VW + l) * ld + k0, r[l], stored);
        }
    }
}

/* Channels-last from planar, scaled: out[k * cp + c] = s * in[c * n + k] for k < n, c < C; lanes past C are 0 */
static void channels_last_of(const float *in, int n, int C, int cp, float s, float *out) {
    for (int k0 = 0; k0 < n; k0 += VW) {
        const int count = n - k0 < VW ? n - k0 : VW;
        for (int b = 0; b < cp / VW; b++) {
            vec r[VW];
            for (int l = 0; l < VW; l++)
                r[l] = b * VW + l < C ? vload_part(in + (size_t)(b * VW + l) * n + k0, count) : (vec){0};
            transpose_tile(r);
            for (int m = 0; m < count; m++) vstore(out + (size_t)(k0 + m) * cp + (size_t)b * VW, s * r[m]);
        }
    }
}

/* One batch's sizes, shared by the forward and the backward. Stage 1 (conv1 -> ReLU -> pooling) turns (H, W) images
 * into C1 planes of (h1, w1); conv2 turns those into Co planes of (h1 - 2, w1 - 2), of which pooling reads the
 * (ho, wo) = (2 hp, 2 wp) under its windows (floor: an odd last row or column is dropped, its gradient is 0). */
struct dims {
    int H, W, h1, w1, ho, wo, hp, wp, Co, cp;
    ptrdiff_t qpad, qs; /* stage 1's padded row lengths (split_columns, conv_window) */
};

static int dims_of(int H, int W, int Co, struct dims *d) {
    d->H = H, d->W = W, d->h1 = (H - 2) / 2, d->w1 = (W - 2) / 2;
    d->hp = (d->h1 - 2) / 2, d->wp = (d->w1 - 2) / 2, d->ho = 2 * d->hp, d->wo = 2 * d->wp;
    d->Co = Co, d->cp = (int)round_up(Co, VW);
    d->qpad = round_up(d->w1, VW), d->qs = d->qpad + VW;
    return W <= MAXW && H >= 10 && W >= 10 && Co >= 1 && Co <= MAXC ? 0 : -1;
}

/* Stage 1 for one image: conv1 (C1 filters 3x3, w (C1, 9), bias b) -> ReLU -> 2x2 average pooling into planar h1
 * (C1, h1, w1), and when m1 is not NULL conv1's ReLU masks as bits for the backward: m1[((c * h1 + p) * qpad / VW +
 * q0 / VW) * 4 + k] for window output k of conv_window. xe, xo, rows: scratch of 2 H qs and C1 h1 qpad floats. */
static void stage1_image(const float *xi, const struct dims *d, const float *w, const float *b, float *xe, float *xo,
                         float *rows, float *h1, unsigned short *m1) {
    split_columns(xi, d->H, d->W, xe, xo, d->qs);
    for (int c = 0; c < C1; c++)
        for (int p = 0; p < d->h1; p++)
            for (ptrdiff_t q0 = 0; q0 < d->qpad; q0 += VW) {
                vec z[4];
                conv_window(xe, xo, d->qs, 2 * p, q0, w + 9 * c, b[c], z);
                const vec s = where_positive(z[0], z[0]) + where_positive(z[1], z[1]) + where_positive(z[2], z[2])
                              + where_positive(z[3], z[3]);
                vstore(rows + ((size_t)c * d->h1 + p) * d->qpad + q0, 0.25f * s);
                if (m1) {
                    unsigned short *mk = m1 + (((size_t)c * d->h1 + p) * (d->qpad / VW) + q0 / VW) * 4;
                    for (int k = 0; k < 4; k++) mk[k] = (unsigned short)positive_bits(z[k]);
                }
            }
    for (int r = 0; r < C1 * d->h1; r++)
        memcpy(h1 + (size_t)r * d->w1, rows + (size_t)r * d->qpad, sizeof(float) * d->w1);
}

/* Weight and bias gradients of stage 1 for one image into part[c * 10 + k] (k < 9 the taps, 9 the bias), given the
 * gradient of its output gp (C1 * h1 rows of qpad floats, zero past w1) and the forward's ReLU masks m1; xe, xo must
 * hold the image's split columns. Each filter's ten sums stay in registers over the whole image. */
static void stage1_grads_image(const float *xe, const float *xo, const struct dims *d, const unsigned short *m1,
                               const float *gp, float *part) {
    const ptrdiff_t qs = d->qs, qpad = d->qpad;
    for (int c = 0; c < C1; c++) {
        const vec zero = {0};
        vec a[10];
        for (int k = 0; k < 10; k++) a[k] = zero;
        for (ptrdiff_t q0 = 0; q0 < qpad; q0 += VW)
            for (int p = 0; p < d->h1; p++) {
                const unsigned short *mk = m1 + (((size_t)c * d->h1 + p) * (qpad / VW) + q0 / VW) * 4;
                const vec up = 0.25f * vload(gp + ((size_t)c * d->h1 + p) * qpad + q0);
                const vec d0 = where_bits(mk[0], up), d1 = where_bits(mk[1], up);
                const vec d2 = where_bits(mk[2], up), d3 = where_bits(mk[3], up);
                for (int r = 0; r < 4; r++) {
                    const float *e = xe + (size_t)(2 * p + r) * qs + q0, *o = xo + (size_t)(2 * p + r) * qs + q0;
                    const vec E0 = vload(e), O0 = vload(o), E1 = vload(e + 1), O1 = vload(o + 1);
                    if (r < 3) {
                        a[3 * r] += d0 * E0; a[3 * r] += d1 * O0;
                        a[3 * r + 1] += d0 * O0; a[3 * r + 1] += d1 * E1;
                        a[3 * r + 2] += d0 * E1; a[3 * r + 2] += d1 * O1;
                    }
                    if (r > 0) {
                        a[3 * (r - 1)] += d2 * E0; a[3 * (r - 1)] += d3 * O0;
                        a[3 * (r - 1) + 1] += d2 * O0; a[3 * (r - 1) + 1] += d3 * E1;
                        a[3 * (r - 1) + 2] += d2 * E1; a[3 * (r - 1) + 2] += d3 * O1;
                    }
                }
                a[9] += (d0 + d1) + (d2 + d3);
            }
        for (int k = 0; k < 10; k++) part[c * 10 + k] = lane_sum(a[k]);
    }
}

/* conv2's filters as vectors of VW output channels: wv[(block * C1 + c) * 9 + tap] (zero past Co), then the bias
 * as cp floats. */
static void conv2_vectors(const float *w, const float *b, const struct dims *d, float *wv) {
    memset(wv, 0, sizeof(float) * (size_t)d->cp * (C1 * 9 + 1));
    for (int co = 0; co < d->Co; co++) {
        const int blk = co / VW, l = co % VW;
        for (int c = 0; c < C1; c++)
            for (int k = 0; k < 9; k++)
                wv[(((size_t)blk * C1 + c) * 9 + k) * VW + l] = w[((size_t)co * C1 + c) * 9 + k];
        wv[(size_t)d->cp * C1 * 9 + co] = b[co];
    }
}

/* Pooling windows computed together by conv2_windows: 2 x 2 x 2 accumulators. More windows share more filter
 * loads, but GCC then spills (4 windows measured ~15 % slower with AVX-512, whose 32 registers would hold them). */
#define NWIN 2

/* conv2 for VW output channels (filter vectors wv, bias) at the 2 x 2n pixels under the n pooling windows from pooled
 * (p, q): acc[r][j] for conv2 output row 2p + r, column 2q + j. Each filter vector is loaded once for all of them and
 * multiplied by broadcast inputs. n is a constant at each call, so the loops unroll. */
static inline __attribute__((always_inline)) void conv2_windows(const float *h1, const struct dims *d,
                                                                const float *wv, vec bias, int p, int q, int n,
                                                                vec acc[2][2 * NWIN]) {
    const ptrdiff_t plane = (ptrdiff_t)d->h1 * d->w1;
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 2 * n; j++) acc[r][j] = bias;
    for (int c = 0; c < C1; c++)
        for (int ki = 0; ki < 3; ki++) {
            const float *row = h1 + c * plane + (ptrdiff_t)(2 * p + ki) * d->w1 + 2 * q;
#pragma GCC unroll 3
            for (int kj = 0; kj < 3; kj++) {
                const vec f = vload(wv + ((size_t)c * 9 + ki * 3 + kj) * VW);
                const float *s = row + kj;
#pragma GCC unroll 2
                for (int r = 0; r < 2; r++)
#pragma GCC unroll 8
                    for (int j = 0; j < 2 * n; j++) acc[r][j] += s[r * d->w1 + j] * f;
            }
        }
}

/* ReLU and pooling of n windows' conv2 outputs into pooled (wp rows of cp channels-last floats, at q) and, when
 * wanted, their ReLU masks into m2 (ho x wo pixels of cp / VW bit masks) for the backward: 2 bytes per 16 floats,
 * so the backward reads back almost nothing */
static inline __attribute__((always_inline)) void relu_pool_windows(vec acc[2][2 * NWIN], const struct dims *d,
                                                                    int blk, int p, int q, int n, float *pooled,
                                                                    unsigned short *m2) {
    for (int j = 0; j < n; j++) {
        const vec *t = acc[0] + 2 * j, *u = acc[1] + 2 * j;
        const vec s = where_positive(t[0], t[0]) + where_positive(t[1], t[1]) + where_positive(u[0], u[0])
                      + where_positive(u[1], u[1]);
        vstore(pooled + ((size_t)p * d->wp + q + j) * d->cp + (size_t)blk * VW, 0.25f * s);
    }
    if (m2)
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < 2 * n; j++)
                m2[((size_t)(2 * p + r) * d->wo + 2 * q + j) * (d->cp / VW) + blk] =
                    (unsigned short)positive_bits(acc[r][j]);
}

/* conv2 (3x3 valid, bias) -> ReLU -> 2x2 average pooling for one image: h1 planar (C1, h1, w1) -> pooled channels-last
 * (hp * wp, cp), and the ReLU masks under the pooling windows into m2 unless NULL */
static void stage2_image(const float *h1, const struct dims *d, const float *wv, float *pooled, unsigned short *m2) {
    for (int blk = 0; blk < d->cp / VW; blk++) {
        const float *f = wv + (size_t)blk * C1 * 9 * VW;
        const vec bias = vload(wv + (size_t)d->cp * C1 * 9 + (size_t)blk * VW);
        for (int p = 0; p < d->hp; p++) {
            int q = 0;
            vec acc[2][2 * NWIN];
            for (; q + NWIN <= d->wp; q += NWIN) {
                conv2_windows(h1, d, f, bias, p, q, NWIN, acc);
                relu_pool_windows(acc, d, blk, p, q, NWIN, pooled, m2);
            }
            for (; q < d->wp; q++) {
                conv2_windows(h1, d, f, bias, p, q, 1, acc);
                relu_pool_windows(acc, d, blk, p, q, 1, pooled, m2);
            }
        }
    }
}

/* LeNet-5's features for images [i0, i1): conv1 -> ReLU -> pool -> conv2 -> ReLU -> pool, one image at a time so its
 * activations stay in cache. x (n, H, W); w1 (C1, 9), b1 (C1); w2 (Co, C1, 3, 3), b2 (Co); out (n, Co, hp, wp)
 * planar, the order the dense head flattens in. For training, what features_backward needs: h1 (n, C1, h1, w1)
 * stage 1's output, m1 (n, C1 * h1 * qpad / VW * 4) conv1's ReLU masks, m2 (n, ho * wo * cp / VW) conv2's (bits,
 * lane l -> bit l); NULL for all three when predicting. Returns 0, -1 for sizes it does not take, -2 out of memory. */
int features_forward(const float *x, int H, int W, const float *w1, const float *b1, const float *w2, const float *b2,
                     int Co, float *out, float *h1, unsigned short *m1, unsigned short *m2, int i0, int i1) {
    struct dims d;
    if (dims_of(H, W, Co, &d)) return -1;
    const size_t plane1 = (size_t)C1 * d.h1 * d.w1, npool = (size_t)d.hp * d.wp;
    const size_t mask1 = (size_t)C1 * d.h1 * (d.qpad / VW) * 4;
    float *xe = malloc(sizeof(float) * (2 * (size_t)H * d.qs + (size_t)C1 * d.h1 * d.qpad + plane1 + npool * d.cp
                                        + (size_t)d.cp * (C1 * 9 + 1)));
    if (!xe) return -2;
    float *xo = xe + (size_t)H * d.qs, *rows = xo + (size_t)H * d.qs, *scratch = rows + (size_t)C1 * d.h1 * d.qpad;
    float *pooled = scratch + plane1, *wv = pooled + npool * d.cp;
    conv2_vectors(w2, b2, &d, wv);
    for (int i = i0; i < i1; i++) {
        float *hi = h1 ? h1 + i * plane1 : scratch;
        stage1_image(x + (size_t)i * H * W, &d, w1, b1, xe, xo, rows, hi, m1 ? m1 + i * mask1 : NULL);
        stage2_image(hi, &d, wv, pooled, m2 ? m2 + (size_t)i * d.ho * d.wo * (d.cp / VW) : NULL);
        planes_of(pooled, npool, d.cp, Co, out + (size_t)i * Co * npool, npool, 1);
    }
    free(xe);
    return 0;
}

/* The gradient of a 3x3 valid convolution with respect to its C1-channel input, for one image: dp holds the output
 * gradient as zero-bordered planes (dp[co][y + 2][x + 2], rows of gs floats, gh rows per plane), wt the weights as
 * wt[co][k][c]; rows gets dx[c][y][x] in rows of wpad floats. oneDNN spends most of conv2's backward here (6 output
 * channels fill its vectors badly); this runs along image rows, 2 * VW pixels at a time, the six input channels in
 * twelve registers sharing each load. */
static void input_grad_rows(const float *dp, ptrdiff_t gs, ptrdiff_t gh, int Co, const float *wt, int Hi,
                            ptrdiff_t wpad, float *rows) {
    for (int y = 0; y < Hi; y++)
        for (ptrdiff_t x0 = 0; x0 < wpad; x0 += 2 * VW) {
            vec a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0};
            vec b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0}, b4 = {0}, b5 = {0};
            for (int co = 0; co < Co; co++)
                for (int ki = 0; ki < 3; ki++)
                    for (int kj = 0; kj < 3; kj++) {
                        const float *gr = dp + (size_t)co * gh * gs + (size_t)(y + 2 - ki) * gs + x0 + 2 - kj;
                        const float *wk = wt + ((size_t)co * 9 + ki * 3 + kj) * C1;
                        const vec u = vload(gr), v = vload(gr + VW);
                        a0 += wk[0] * u; b0 += wk[0] * v;
                        a1 += wk[1] * u; b1 += wk[1] * v;
                        a2 += wk[2] * u; b2 += wk[2] * v;
                        a3 += wk[3] * u; b3 += wk[3] * v;
                        a4 += wk[4] * u; b4 += wk[4] * v;
                        a5 += wk[5] * u; b5 += wk[5] * v;
                    }
            float *r = rows + (size_t)y * wpad + x0;
            const ptrdiff_t cs = (ptrdiff_t)Hi * wpad;
            vstore(r, a0); vstore(r + VW, b0);
            vstore(r + cs, a1); vstore(r + cs + VW, b1);
            vstore(r + 2 * cs, a2); vstore(r + 2 * cs + VW, b2);
            vstore(r + 3 * cs, a3); vstore(r + 3 * cs + VW, b3);
            vstore(r + 4 * cs, a4); vstore(r + 4 * cs + VW, b4);
            vstore(r + 5 * cs, a5); vstore(r + 5 * cs + VW, b5);
        }
}

/* conv2's weight gradient for one image, input channels c3..c3+2 and the VW output channels of vector blk: the sum
 * over the pooled pixels of (input at pixel + tap, channel c) x (output gradient at pixel, VW channels). A broadcast
 * times one vector per product and the 27 sums in registers: no horizontal sums. h1 planar (C1, h1, w1); dn (ho * wo,
 * cp) channels-last; acc[k] for (c - c3) * 9 + tap. */
#if defined(__GNUC__) && !defined(__clang__)
/* GCC's predictive commoning would carry the inputs shared by neighbouring pixels across iterations, spilling them
 * to the stack (~20 % slower than loading each as an FMA operand) */
__attribute__((optimize("no-predictive-commoning")))
#endif
static void weight_grad_block(const float *h1, const struct dims *d, const float *dn, int blk, int c3, vec acc[27]) {
    const ptrdiff_t plane = (ptrdiff_t)d->h1 * d->w1;
    vec a[27];
    for (int k = 0; k < 27; k++) a[k] = (vec){0};
    for (int y = 0; y < d->ho; y++)
        for (int xx = 0; xx < d->wo; xx++) {
            const vec g = vload(dn + ((size_t)y * d->wo + xx) * d->cp + (size_t)blk * VW);
            const float *px = h1 + c3 * plane + (ptrdiff_t)y * d->w1 + xx;
#pragma GCC unroll 27
            for (int k = 0; k < 27; k++) a[k] += px[k / 9 * plane + (k % 9 / 3) * d->w1 + k % 3] * g;
        }
    for (int k = 0; k < 27; k++) acc[k] = a[k];
}

/* Gradients of features_forward's parameters for images [i0, i1), given the gradient g (n, Co, hp, wp) planar of its
 * output and what its training forward kept (h1, m1, m2), one image at a time: pooling and ReLU backward, conv2's
 * weight, bias and input gradients, then stage 1's weight and bias gradients from that input gradient without it
 * leaving the cache. Writes per image part[i * (C1 * 10 + Co * C1 * 9 + Co) + ...]: stage 1's (filter c: 9 taps then
 * bias), conv2's weight gradient in w2's order, its bias gradient. Returns 0, -1 for sizes it does not take, -2 out
 * of memory. */
int features_backward(const float *x, int H, int W, const float *w2, int Co, const float *h1,
                      const unsigned short *m1, const unsigned short *m2, const float *g, float *part, int i0, int i1) {
    struct dims d;
    if (dims_of(H, W, Co, &d)) return -1;
    const int cp = d.cp, hi = d.h1, wi = d.w1, hf = hi - 2; /* hf: conv2's output rows */
    const size_t plane1 = (size_t)C1 * hi * wi, npool = (size_t)d.hp * d.wp, npix = (size_t)d.ho * d.wo;
    const size_t per_image = (size_t)C1 * 10 + (size_t)Co * C1 * 9 + Co, mask1 = (size_t)C1 * hi * (d.qpad / VW) * 4;
    const ptrdiff_t wpad = round_up(wi, 2 * VW), gs = wpad + 2 * VW, gh = hf + 4;
    /* dp: conv2's output gradient as zero-bordered planes (for its input gradient); dn: the same channels-last (for
     * its weight gradient); gt: the pooled gradient channels-last; rows: conv2's input gradient; gp: the same as
     * stage 1 reads it; wt[co][k][c]; xe, xo: the image's split columns */
    float *dp = calloc((size_t)Co * gh * gs + npix * cp + npool * cp + (size_t)C1 * hi * wpad + (size_t)C1 * hi * d.qpad
                       + (size_t)Co * 9 * C1 + 2 * (size_t)H * d.qs, sizeof(float));
    if (!dp) return -2;
    float *dn = dp + (size_t)Co * gh * gs, *gt = dn + npix * cp, *rows = gt + npool * cp;
    float *gp = rows + (size_t)C1 * hi * wpad, *wt = gp + (size_t)C1 * hi * d.qpad, *xe = wt + (size_t)Co * 9 * C1;
    float *xo = xe + (size_t)H * d.qs;
    for (int co = 0; co < Co; co++)
        for (int k = 0; k < 9; k++)
            for (int c = 0; c < C1; c++) wt[((size_t)co * 9 + k) * C1 + c] = w2[((size_t)co * C1 + c) * 9 + k];
    for (int i = i0; i < i1; i++) {
        float *pi = part + (size_t)i * per_image, *pw = pi + C1 * 10, *pb = pw + (size_t)Co * C1 * 9;
        const float *hi1 = h1 + i * plane1, *gi = g + (size_t)i * Co * npool;
        const unsigned short *ai = m2 + i * npix * (cp / VW);
        /* pooling and ReLU backward, channels-last: g / 4 spread over each window where conv2's output is positive */
        channels_last_of(gi, npool, Co, cp, 0.25f, gt);
        for (int b = 0; b < cp / VW; b++) {
            vec bias = {0};  /* a register: summing into memory would chain every pixel's add through a store */
            for (int p = 0; p < d.hp; p++)
                for (int q = 0; q < d.wp; q++) {
                    const vec u = vload(gt + ((size_t)p * d.wp + q) * cp + (size_t)b * VW);
                    for (int r = 0; r < 2; r++)
                        for (int j = 0; j < 2; j++) {
                            const size_t at = ((size_t)(2 * p + r) * d.wo + 2 * q + j) * cp + (size_t)b * VW;
                            const vec dv = where_bits(ai[at / VW], u);
                            vstore(dn + at, dv);
                            bias += dv;
                        }
                }
            for (int l = 0; l < VW && b * VW + l < Co; l++) pb[b * VW + l] = bias[l];
        }
        /* conv2's input gradient, from the output gradient as planes: each pixel's channels read once, in order */
        for (int y = 0; y < d.ho; y++)
            planes_of(dn + (size_t)y * d.wo * cp, d.wo, cp, Co, dp + (size_t)(y + 2) * gs + 2, (size_t)gh * gs, VW);
        input_grad_rows(dp, gs, gh, Co, wt, hi, wpad, rows);
        /* conv2's weight gradient */
        for (int b = 0; b < cp / VW; b++)
            for (int c3 = 0; c3 < C1; c3 += 3) {
                vec acc[27];
                weight_grad_block(hi1, &d, dn, b, c3, acc);
                for (int k = 0; k < 27; k++)
                    for (int l = 0; l < VW && b * VW + l < Co; l++)
                        pw[((size_t)(b * VW + l) * C1 + c3 + k / 9) * 9 + k % 9] = acc[k][l];
            }
        /* stage 1's gradients from conv2's input gradient (rows past wi in gp stay zero) */
        for (int r = 0; r < C1 * hi; r++) memcpy(gp + (size_t)r * d.qpad, rows + (size_t)r * wpad, sizeof(float) * wi);
        split_columns(x + (size_t)i * H * W, H, W, xe, xo, d.qs);
        stage1_grads_image(xe, xo, &d, m1 + i * mask1, gp, pi);
    }
    free(dp);
    return 0;
}

/* Floats per vector in this build, which sizes features_forward's masks */
int lanes(void) { return VW; }

/* out[k] = sum over rows r < n of m[r * k_count + k], added in row order (deterministic whatever the split). */
void sum_rows(const float *m, int n, int k_count, float *out) {
    for (int k = 0; k < k_count; k++) out[k] = 0.0f;
    for (int r = 0; r < n; r++)
        for (int k = 0; k < k_count; k++) out[k] += m[(size_t)r * k_count + k];
}
