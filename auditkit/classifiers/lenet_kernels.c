/* Fused CPU kernels for LeNet-5 (auditkit/classifiers/lenet_fused.py builds and loads this file).
 *
 * Why: on small convolutions the cost is memory traffic and badly filled vectors, not arithmetic. PyTorch runs
 * conv1, ReLU and 2x2 average pooling as separate passes over a 6x62x62 activation per image, forward and backward;
 * here each image's first stage stays in registers and L1 and is never written out at full size (the backward
 * recomputes conv1 instead of saving it). conv2's input gradient, where oneDNN fills its vectors with 6 channels
 * badly, runs along image rows instead.
 *
 * Layouts: images (n, H, W) float32; NHWC (channels last) for what oneDNN reads or writes (conv2's input and output),
 * planar NCHW for what only these kernels and the dense head touch. Every loop over images handles [i0, i1) so the
 * caller can split a batch over threads; gradients are written per image and summed by sum_rows in image order, so
 * results do not depend on how the batch was split. Plain C11 with GCC/clang vector extensions, no OpenMP: the
 * library carries no runtime of its own.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAXW 1024 /* widest image row the kernels take */
#define C1 6      /* conv1 filters (Table 3): fixed so the channel loops unroll */
#define MAXC 256  /* most conv2 filters stage2_backward takes */

/* VW floats per vector: a 512-bit register where the CPU has one, else 256-bit. Loads and stores go through memcpy:
 * unaligned, and no aliasing rules broken. */
#ifdef __AVX512F__
#define VW 16
#else
#define VW 8
#endif
typedef float vec __attribute__((vector_size(VW * sizeof(float))));
typedef int ivec __attribute__((vector_size(VW * sizeof(int))));

static inline vec vload(const float *p) {
    vec v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void vstore(float *p, vec v) { memcpy(p, &v, sizeof v); }

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

/* out[j][i] = in[i][j] for an (rows, cols) matrix, in 16x16 blocks so reads and writes stay in a few cache lines:
 * how these kernels move one image between planar (C, P) and channels-last (P, C) layouts. */
static void transpose(const float *restrict in, int rows, int cols, float *restrict out) {
    for (int i0 = 0; i0 < rows; i0 += 16)
        for (int j0 = 0; j0 < cols; j0 += 16) {
            const int i1 = i0 + 16 < rows ? i0 + 16 : rows, j1 = j0 + 16 < cols ? j0 + 16 : cols;
            for (int j = j0; j < j1; j++)
                for (int i = i0; i < i1; i++) out[(size_t)j * rows + i] = in[(size_t)i * cols + j];
        }
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
 * pre-activations under each pooling window. z[0] = (y, even), z[1] = (y, odd), z[2] = (y+1, even), z[3] = (y+1, odd). */
static inline void conv_window(const float *xe, const float *xo, ptrdiff_t qs, int y, ptrdiff_t q0, const float *w,
                               float b, vec z[4]) {
    const vec zero = {0};
    vec a0 = zero + b, a1 = a0, a2 = a0, a3 = a0;
    for (int r = 0; r < 4; r++) {
        const float *e = xe + (size_t)(y + r) * qs + q0, *o = xo + (size_t)(y + r) * qs + q0;
        const vec E0 = vload(e), O0 = vload(o), E1 = vload(e + 1), O1 = vload(o + 1);
        if (r < 3) {
            const float *k = w + 3 * r;
            a0 += k[0] * E0 + k[1] * O0 + k[2] * E1;
            a1 += k[0] * O0 + k[1] * E1 + k[2] * O1;
        }
        if (r > 0) {
            const float *k = w + 3 * (r - 1);
            a2 += k[0] * E0 + k[1] * O0 + k[2] * E1;
            a3 += k[0] * O0 + k[1] * E1 + k[2] * O1;
        }
    }
    z[0] = a0, z[1] = a1, z[2] = a2, z[3] = a3;
}

/* conv1 (C1 filters 3x3, bias) -> ReLU -> 2x2 average pooling (floor), for images [i0, i1).
 * x: (n, H, W); w: (C1, 9); b: (C1); out: (n, (H-2)/2, (W-2)/2, C1) NHWC. Returns 0, -1 for sizes it does not take,
 * -2 out of memory. */
int stage1_forward(const float *x, int H, int W, const float *w, const float *b, int C, float *out, int i0, int i1) {
    const int hp = (H - 2) / 2, wp = (W - 2) / 2;
    const ptrdiff_t qpad = round_up(wp, VW), qs = qpad + VW;
    if (C != C1 || W > MAXW || hp < 1 || wp < 1) return -1;
    float *xe = malloc(sizeof(float) * (size_t)(2 * H * qs + C1 * hp * qpad + C1 * hp * wp));
    if (!xe) return -2;
    float *xo = xe + (size_t)H * qs, *rows = xo + (size_t)H * qs, *planes = rows + (size_t)C1 * hp * qpad;
    for (int i = i0; i < i1; i++) {
        split_columns(x + (size_t)i * H * W, H, W, xe, xo, qs);
        for (int c = 0; c < C1; c++)
            for (int p = 0; p < hp; p++)
                for (ptrdiff_t q0 = 0; q0 < qpad; q0 += VW) {
                    vec z[4];
                    conv_window(xe, xo, qs, 2 * p, q0, w + 9 * c, b[c], z);
                    const vec s = where_positive(z[0], z[0]) + where_positive(z[1], z[1]) + where_positive(z[2], z[2])
                                  + where_positive(z[3], z[3]);
                    vstore(rows + ((size_t)c * hp + p) * qpad + q0, 0.25f * s);
                }
        for (int r = 0; r < C1 * hp; r++) memcpy(planes + (size_t)r * wp, rows + (size_t)r * qpad, sizeof(float) * wp);
        transpose(planes, C1, hp * wp, out + (size_t)i * hp * wp * C1);
    }
    free(xe);
    return 0;
}

/* Gradients of stage1_forward's weights and bias for images [i0, i1), given the gradient of its output g, planar
 * (n, C1, (H-2)/2, (W-2)/2). Writes per image part[i * C1 * 10 + c * 10 + k]: k < 9 the weight taps, k = 9 the bias.
 * The input needs no gradient (it is the data). Each filter's ten sums stay in registers over the whole image. */
int stage1_backward(const float *x, int H, int W, const float *w, const float *b, int C, const float *g,
                    float *part, int i0, int i1) {
    const int hp = (H - 2) / 2, wp = (W - 2) / 2;
    const ptrdiff_t qpad = round_up(wp, VW), qs = qpad + VW;
    if (C != C1 || W > MAXW || hp < 1 || wp < 1) return -1;
    float *xe = calloc((size_t)(2 * H * qs + C1 * hp * qpad), sizeof(float));
    if (!xe) return -2;
    float *xo = xe + (size_t)H * qs, *gp = xo + (size_t)H * qs; /* gp: g rows zero-padded to qpad */
    for (int i = i0; i < i1; i++) {
        split_columns(x + (size_t)i * H * W, H, W, xe, xo, qs);
        const float *gi = g + (size_t)i * C1 * hp * wp;
        for (int r = 0; r < C1 * hp; r++) memcpy(gp + (size_t)r * qpad, gi + (size_t)r * wp, sizeof(float) * wp);
        for (int c = 0; c < C1; c++) {
            const vec zero = {0};
            vec a[10];
            for (int k = 0; k < 10; k++) a[k] = zero;
            for (ptrdiff_t q0 = 0; q0 < qpad; q0 += VW)
                for (int p = 0; p < hp; p++) {
                    vec z[4];
                    conv_window(xe, xo, qs, 2 * p, q0, w + 9 * c, b[c], z);
                    const vec up = 0.25f * vload(gp + ((size_t)c * hp + p) * qpad + q0);
                    const vec d0 = where_positive(z[0], up), d1 = where_positive(z[1], up);
                    const vec d2 = where_positive(z[2], up), d3 = where_positive(z[3], up);
                    for (int r = 0; r < 4; r++) {
                        const float *e = xe + (size_t)(2 * p + r) * qs + q0, *o = xo + (size_t)(2 * p + r) * qs + q0;
                        const vec E0 = vload(e), O0 = vload(o), E1 = vload(e + 1), O1 = vload(o + 1);
                        if (r < 3) {
                            a[3 * r] += d0 * E0 + d1 * O0;
                            a[3 * r + 1] += d0 * O0 + d1 * E1;
                            a[3 * r + 2] += d0 * E1 + d1 * O1;
                        }
                        if (r > 0) {
                            a[3 * (r - 1)] += d2 * E0 + d3 * O0;
                            a[3 * (r - 1) + 1] += d2 * O0 + d3 * E1;
                            a[3 * (r - 1) + 2] += d2 * E1 + d3 * O1;
                        }
                    }
                    a[9] += (d0 + d1) + (d2 + d3);
                }
            float *pi = part + ((size_t)i * C1 + c) * 10;
            for (int k = 0; k < 10; k++) pi[k] = lane_sum(a[k]);
        }
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

/* Weight gradient of a 3x3 valid convolution for one image, three input channels c3..c3+2 and output channels
 * co0..co0+VW: the sum over output pixels of (input at pixel + tap, channel c) x (output gradient at pixel, VW output
 * channels). Channels-last data make each product a broadcast times one vector, and the 27 sums stay in registers:
 * no horizontal sums. x (Hi, Wi, C1) NHWC; dn (Ho, Wo, cp) NHWC with cp channels (zero-padded to whole vectors);
 * acc[k] for (c - c3) * 9 + tap. */
static void weight_grad_block(const float *x, int Wi, const float *dn, int Ho, int Wo, int cp, int co0, int c3,
                              vec acc[27]) {
    vec a[27];
    for (int k = 0; k < 27; k++) a[k] = (vec){0};
    for (int y = 0; y < Ho; y++)
        for (int xx = 0; xx < Wo; xx++) {
            const vec d = vload(dn + ((size_t)y * Wo + xx) * cp + co0);
            const float *px = x + ((size_t)y * Wi + xx) * C1 + c3;
#pragma GCC unroll 27
            for (int k = 0; k < 27; k++) {
                const int c = k / 9, ki = k % 9 / 3, kj = k % 3;
                a[k] += px[((size_t)ki * Wi + kj) * C1 + c] * d;
            }
        }
    for (int k = 0; k < 27; k++) acc[k] = a[k];
}

/* Backward of conv2 (3x3 valid, bias) -> ReLU -> 2x2 average pooling (floor), for images [i0, i1), in one pass per
 * image: x (n, Ho+2, Wo+2, C1) NHWC conv2's input, a (n, Ho, Wo, Co) NHWC its pre-activation, g (n, Co, Ho/2, Wo/2)
 * planar the pooled output's gradient, w (Co, C1, 3, 3). Writes dx (n, C1, Ho+2, Wo+2) planar, and per image
 * part[i * (Co * C1 * 9 + Co) + ...]: the weight gradient in w's order, then the bias gradient.
 * Returns 0, -1 for sizes it does not take, -2 out of memory. */
int stage2_backward(const float *x, const float *a, const float *g, int Ho, int Wo, int Co, const float *w, int C,
                    float *dx, float *part, int i0, int i1) {
    const int Hi = Ho + 2, Wi = Wo + 2, P = Ho * Wo, hp = Ho / 2, wp = Wo / 2, cp = (int)round_up(Co, VW);
    const ptrdiff_t wpad = round_up(Wi, 2 * VW), gs = wpad + 2 * VW, gh = Ho + 4;
    const size_t per_image = (size_t)Co * C1 * 9 + Co;
    if (C != C1 || Wi > MAXW || Ho < 1 || Wo < 1 || Co > MAXC) return -1;
    /* dp: the output gradient as zero-bordered planes (for dx); dn: the same channels-last with cp lanes (for dW);
     * gt: the pooled gradient channels-last; rows: dx rows; flat: dn as planes; wt[co][k][c] */
    float *dp = calloc((size_t)Co * gh * gs + (size_t)P * cp + (size_t)hp * wp * cp + (size_t)C1 * Hi * wpad
                       + (size_t)cp * P + (size_t)Co * 9 * C1, sizeof(float));
    if (!dp) return -2;
    float *dn = dp + (size_t)Co * gh * gs, *gt = dn + (size_t)P * cp, *rows = gt + (size_t)hp * wp * cp;
    float *flat = rows + (size_t)C1 * Hi * wpad, *wt = flat + (size_t)cp * P;
    for (int co = 0; co < Co; co++)
        for (int k = 0; k < 9; k++)
            for (int c = 0; c < C1; c++) wt[((size_t)co * 9 + k) * C1 + c] = w[((size_t)co * C1 + c) * 9 + k];
    for (int i = i0; i < i1; i++) {
        float *pi = part + (size_t)i * per_image;
        const float *ai = a + (size_t)i * P * Co, *xi = x + (size_t)i * Hi * Wi * C1;
        /* ReLU + pooling backward, channels-last: d = g / 4 spread over each window where the pre-activation is
         * positive; the row and column the floor pooling drops (odd sizes) get 0 */
        const float *gi = g + (size_t)i * Co * hp * wp;
        for (int co = 0; co < Co; co++)
            for (int q = 0; q < hp * wp; q++) gt[(size_t)q * cp + co] = 0.25f * gi[(size_t)co * hp * wp + q];
        vec bias[MAXC / VW];
        for (int v = 0; v < cp / VW; v++) bias[v] = (vec){0};
        for (int y = 0; y < Ho; y++)
            for (int xx = 0; xx < Wo; xx++) {
                float *d = dn + ((size_t)y * Wo + xx) * cp;
                const float *z = ai + ((size_t)y * Wo + xx) * Co;
                if (y >= 2 * hp || xx >= 2 * wp) {
                    for (int co = 0; co < Co; co++) d[co] = 0.0f;
                    continue;
                }
                const float *u = gt + ((size_t)(y / 2) * wp + xx / 2) * cp;
                for (int co = 0; co < Co; co++) d[co] = z[co] > 0.0f ? u[co] : 0.0f;
                for (int v = 0; v < cp / VW; v++) bias[v] += vload(d + v * VW);
            }
        for (int v = 0; v < cp / VW; v++)
            for (int l = 0; l < VW && v * VW + l < Co; l++) pi[(size_t)Co * C1 * 9 + v * VW + l] = bias[v][l];
        /* dx from the gradient as planes */
        transpose(dn, P, cp, flat);  /* dx needs the first Co planes */
        for (int co = 0; co < Co; co++)
            for (int y = 0; y < Ho; y++)
                memcpy(dp + (size_t)co * gh * gs + (size_t)(y + 2) * gs + 2, flat + (size_t)co * P + (size_t)y * Wo,
                       sizeof(float) * Wo);
        input_grad_rows(dp, gs, gh, Co, wt, Hi, wpad, rows);
        float *di = dx + (size_t)i * C1 * Hi * Wi;
        for (int r = 0; r < C1 * Hi; r++) memcpy(di + (size_t)r * Wi, rows + (size_t)r * wpad, sizeof(float) * Wi);
        /* dW, VW output channels and three input channels at a time */
        for (int co0 = 0; co0 < cp; co0 += VW)
            for (int c3 = 0; c3 < C1; c3 += 3) {
                vec acc[27];
                weight_grad_block(xi, Wi, dn, Ho, Wo, cp, co0, c3, acc);
                for (int k = 0; k < 27; k++)
                    for (int l = 0; l < VW && co0 + l < Co; l++)
                        pi[((size_t)(co0 + l) * C1 + c3 + k / 9) * 9 + k % 9] = acc[k][l];
            }
    }
    free(dp);
    return 0;
}

/* ReLU -> 2x2 average pooling (floor) on NHWC activations a (n, H, W, C) -> planar out (n, C, H/2, W/2), the order
 * the dense head flattens in (so its input needs no copy), images [i0, i1). Returns 0, or -2 out of memory. */
int relu_pool_forward(const float *a, int H, int W, int C, float *out, int i0, int i1) {
    const int hp = H / 2, wp = W / 2;
    float *tmp = malloc(sizeof(float) * (size_t)hp * wp * C + 1);
    if (!tmp) return -2;
    for (int i = i0; i < i1; i++) {
        const float *ai = a + (size_t)i * H * W * C;
        for (int p = 0; p < hp; p++)
            for (int q = 0; q < wp; q++) {
                const float *t = ai + ((size_t)(2 * p) * W + 2 * q) * C, *u = t + (size_t)W * C;
                float *o = tmp + ((size_t)p * wp + q) * C;
                for (int c = 0; c < C; c++) {
                    const float v0 = t[c] > 0.0f ? t[c] : 0.0f, v1 = t[C + c] > 0.0f ? t[C + c] : 0.0f;
                    const float v2 = u[c] > 0.0f ? u[c] : 0.0f, v3 = u[C + c] > 0.0f ? u[C + c] : 0.0f;
                    o[c] = 0.25f * (v0 + v1 + v2 + v3);
                }
            }
        transpose(tmp, hp * wp, C, out + (size_t)i * C * hp * wp);
    }
    free(tmp);
    return 0;
}

/* out[k] = sum over rows r < n of m[r * k_count + k], added in row order (deterministic whatever the split). */
void sum_rows(const float *m, int n, int k_count, float *out) {
    for (int k = 0; k < k_count; k++) out[k] = 0.0f;
    for (int r = 0; r < n; r++)
        for (int k = 0; k < k_count; k++) out[k] += m[(size_t)r * k_count + k];
}
