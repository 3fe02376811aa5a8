#pragma once
/// @file
/// The arithmetic of k-means, as free functions tests can reach: squared distances of points to
/// a table of centres (‖x‖² − 2x·c + ‖c‖²), nearest and second nearest centre, the centre-sum
/// accumulation, and the fixed-block partition that keeps every sum independent of the thread
/// count.
///
/// Nearest centres are found for tiles of 16 points (nearest_tile): with AVX-512 the tile is
/// transposed into one vector per coordinate, each centre's coordinates are broadcast, and every
/// lane keeps its own running minimum, so no horizontal reduction is needed. A point goes through
/// the same sequence of operations in whatever tile it lands (a fit, Hamerly's recomputation,
/// predict, predict_row), so the same point and centres always give the same distances and the
/// same nearest centre. k-means++ and transform use the transposed chunks of centres (d x width
/// per chunk, width 16, 32 or 64, padding centres with ‖c‖² = +inf), one point at a time.

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "recmix/core/types.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define RECMIX_KMEANS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define RECMIX_KMEANS_INLINE __forceinline
#else
#define RECMIX_KMEANS_INLINE inline
#endif

// Fully unrolled loops over the registers of a chunk (kept in registers, not on the stack).
#if defined(__clang__)
#define RECMIX_UNROLL _Pragma("unroll")
#define RECMIX_UNROLL16 _Pragma("unroll")
#elif defined(__GNUC__)
#define RECMIX_UNROLL _Pragma("GCC unroll 8")
#define RECMIX_UNROLL16 _Pragma("GCC unroll 16")
#else
#define RECMIX_UNROLL
#define RECMIX_UNROLL16
#endif

// `#pragma omp simd` on the element-wise loops of the kernels. Under -fsanitize=undefined, clang
// puts a null, alignment and pointer-overflow check (with a call to its handler) on every pointer
// access, cannot vectorize these loops and warns that the requested transformation failed
// (-Wpass-failed=transform-warning). There the hint is left out: each lane is computed on its
// own, so the values are the same vectorized or not; only those builds run the loops unvectorized.
#if defined(__clang__) && defined(__has_feature)
#if __has_feature(undefined_behavior_sanitizer)
#define RECMIX_SIMD
#endif
#endif
#ifndef RECMIX_SIMD
#define RECMIX_SIMD _Pragma("omp simd")
#endif

namespace recmix::cluster::detail {

/// Points per block: the unit of work and of partial sums (fixed, so results do not depend on
/// the thread count).
inline constexpr Index kBlock = 4096;
/// Widest chunk of centres one kernel call handles.
inline constexpr Index kChunk = 64;
/// Points per tile of the nearest-centre kernel (one per lane of a 16-float register).
inline constexpr int kTile = 16;
/// Centres the tile kernel handles per pass over the coordinates.
inline constexpr Index kGroup = 8;

/// A hint to start loading the cache line at p (no effect where the compiler has no builtin).
inline void prefetch(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

inline Index block_count(Index n) { return n == 0 ? 0 : (n - 1) / kBlock + 1; }

/// Centres prepared for the distance kernels.
template <class S>
struct CentreTable {
  Index k = 0;       ///< real centres
  Index d = 0;
  Index width = 0;   ///< centres per chunk (16, 32 or 64)
  Index chunks = 0;
  Index padded_k = 0;  ///< k rounded up to a multiple of kGroup (the tile kernel's unit)
  std::vector<S> transposed;  ///< chunks x d x width
  std::vector<S> norms;       ///< chunks x width; +inf for padding
  std::vector<S> rows;        ///< padded_k x d, row-major (padding rows are 0)
  std::vector<S> row_norms;   ///< padded_k: ‖c‖², the same values as `norms`; +inf for padding

  void assign(const RowMatrix<S>& centres) {
    k = static_cast<Index>(centres.rows());
    d = static_cast<Index>(centres.cols());
    width = k <= 16 ? 16 : k <= 32 ? 32 : kChunk;
    chunks = (k + width - 1) / width;
    const auto w = static_cast<std::size_t>(width), dd = static_cast<std::size_t>(d);
    transposed.assign(static_cast<std::size_t>(chunks) * dd * w, S(0));
    norms.assign(static_cast<std::size_t>(chunks) * w, std::numeric_limits<S>::infinity());
    for (Index c = 0; c < k; ++c) {
      const auto q = static_cast<std::size_t>(c / width), lane = static_cast<std::size_t>(c % width);
      S n = 0;
      for (Index j = 0; j < d; ++j) {
        const S v = centres(c, j);
        transposed[(q * dd + static_cast<std::size_t>(j)) * w + lane] = v;
        n += v * v;
      }
      norms[q * w + lane] = n;
    }
    padded_k = (k + kGroup - 1) / kGroup * kGroup;
    rows.assign(static_cast<std::size_t>(padded_k) * dd, S(0));
    row_norms.assign(static_cast<std::size_t>(padded_k), std::numeric_limits<S>::infinity());
    for (Index c = 0; c < k; ++c) {
      for (Index j = 0; j < d; ++j) rows[static_cast<std::size_t>(c) * dd + static_cast<std::size_t>(j)] = centres(c, j);
      row_norms[static_cast<std::size_t>(c)] = norms[static_cast<std::size_t>(c)];  // chunk q, lane l is centre q * width + l
    }
  }
};

/// ‖x‖², with four partial sums (a short dependency chain; the same order everywhere).
template <class S>
RECMIX_KMEANS_INLINE S squared_norm(const S* x, Index d) {
  S part[4] = {0, 0, 0, 0};
  Index j = 0;
  for (; j + 4 <= d; j += 4) {
    for (Index t = 0; t < 4; ++t) part[t] += x[j + t] * x[j + t];
  }
  for (; j < d; ++j) part[j & 3] += x[j] * x[j];
  return (part[0] + part[1]) + (part[2] + part[3]);
}

/// ‖x − c‖² with four partial sums (k-means++'s distance to one new centre).
template <class S>
RECMIX_KMEANS_INLINE S squared_distance(const S* x, const S* c, Index d) {
  S part[4] = {0, 0, 0, 0};
  Index j = 0;
  for (; j + 4 <= d; j += 4) {
    for (Index t = 0; t < 4; ++t) {
      const S v = x[j + t] - c[j + t];
      part[t] += v * v;
    }
  }
  for (; j < d; ++j) {
    const S v = x[j] - c[j];
    part[j & 3] += v * v;
  }
  return (part[0] + part[1]) + (part[2] + part[3]);
}

/// out[c] = max(0, xn + ‖c‖² − 2 x·c) for the W centres of one chunk (padding: ‖c‖² = +inf
/// gives +inf). Even and odd coordinates go to separate accumulators (two dependency chains).
template <class S, int W, bool Partial = false>
RECMIX_KMEANS_INLINE void chunk_distances(const S* x, S xn, Index d, const S* ct, const S* cn, S* out) {
  S even[W], odd[W];
  for (int c = 0; c < W; ++c) even[c] = odd[c] = 0;
  Index j = 0;
  for (; j + 2 <= d; j += 2) {
    const S x0 = x[j], x1 = x[j + 1];
    const S* r0 = ct + static_cast<std::ptrdiff_t>(j) * W;
    const S* r1 = r0 + W;
    RECMIX_SIMD
    for (int c = 0; c < W; ++c) {
      even[c] += x0 * r0[c];
      odd[c] += x1 * r1[c];
    }
  }
  if (j < d) {
    const S x0 = x[j];
    const S* r0 = ct + static_cast<std::ptrdiff_t>(j) * W;
    RECMIX_SIMD
    for (int c = 0; c < W; ++c) even[c] += x0 * r0[c];
  }
  if constexpr (Partial) {
    RECMIX_SIMD
    for (int c = 0; c < W; ++c) out[c] = cn[c] - S(2) * (even[c] + odd[c]);
  } else {
    RECMIX_SIMD
    for (int c = 0; c < W; ++c) {
      const S v = xn + cn[c] - S(2) * (even[c] + odd[c]);
      out[c] = v > S(0) ? v : S(0);
    }
  }
}

template <class S>
inline void chunk_distances(const CentreTable<S>& t, Index q, const S* x, S xn, S* out) {
  const S* ct = t.transposed.data() + static_cast<std::ptrdiff_t>(q) * t.d * t.width;
  const S* cn = t.norms.data() + static_cast<std::ptrdiff_t>(q) * t.width;
  switch (t.width) {
    case 16: chunk_distances<S, 16>(x, xn, t.d, ct, cn, out); break;
    case 32: chunk_distances<S, 32>(x, xn, t.d, ct, cn, out); break;
    default: chunk_distances<S, kChunk>(x, xn, t.d, ct, cn, out); break;
  }
}

/// Squared distances of point x to every real centre: out[0..k).
template <class S>
inline void all_distances(const CentreTable<S>& t, const S* x, S* out) {
  const S xn = squared_norm(x, t.d);
  S buf[kChunk];
  for (Index q = 0; q < t.chunks; ++q) {
    chunk_distances(t, q, x, xn, buf);
    const Index first = q * t.width, count = std::min(t.width, t.k - first);
    std::copy(buf, buf + count, out + first);
  }
}

/// Nearest centre of x (ties to the lower index) and its squared distance; optionally the
/// squared distance to the second nearest. The comparison runs on ‖c‖² − 2x·c (‖x‖² is the
/// same for every centre), so every caller ranks centres with the same arithmetic.
template <class S>
struct Nearest {
  Index index = 0;
  S distance = 0;
  S second = 0;
};

template <class S, int W>
RECMIX_KMEANS_INLINE void scan_chunk(const S* dist, Index first, bool want_second, Nearest<S>& best) {
  int at = 0;
  for (int c = 1; c < W; ++c) at = dist[c] < dist[at] ? c : at;
  const S m = dist[at];
  if (m < best.distance) {
    if (want_second) {
      S s = best.distance;
      for (int c = 0; c < W; ++c) s = c != at && dist[c] < s ? dist[c] : s;
      best.second = s;
    }
    best.distance = m;
    best.index = first + at;
  } else if (want_second && m < best.second) {
    best.second = m;
  }
}

/// Row stride of a block's centre sums: d sums, then the cluster's mass (sum of weights) in
/// column d, rounded up to a multiple of 8 doubles so the vector path loads and stores whole
/// registers (a masked store cannot forward to the next point's load of the same cluster).
inline Index padded_dim(Index d) { return (d + 1 + 7) / 8 * 8; }

/// The first 64-byte aligned address at or after p (buffers get 8 spare doubles for it).
inline double* align64(double* p) {
  return reinterpret_cast<double*>((reinterpret_cast<std::uintptr_t>(p) + 63) & ~std::uintptr_t{63});
}

#if defined(__AVX512F__)
/// accumulate_rows for float: Chunks = padded_dim(d) / 8 when known at compile time, else 0.
template <int Chunks, class L>
inline double accumulate_rows_avx512(const float* X, std::ptrdiff_t ld, Index d, Index begin, Index end, const L* labels, const float* w,
                                     double* sums, const double* centres, std::ptrdiff_t ahead) {
  constexpr int kMaxChunks = Chunks > 0 ? Chunks : 1;
  const Index dp = Chunks > 0 ? 8 * Chunks : padded_dim(d);
  // Which coordinates each 8-wide chunk loads, and where the mass column is.
  __mmask8 load[kMaxChunks], mass[kMaxChunks];
  if constexpr (Chunks > 0) {
    for (int q = 0; q < Chunks; ++q) {
      const Index left = d - 8 * q;
      load[q] = left >= 8 ? static_cast<__mmask8>(0xFF) : left > 0 ? static_cast<__mmask8>((1U << left) - 1U) : static_cast<__mmask8>(0);
      mass[q] = left >= 0 && left < 8 ? static_cast<__mmask8>(1U << left) : static_cast<__mmask8>(0);
    }
  }
  // Per lane: weight x (the point's squared distance, 8 partial sums); two accumulators
  // (even and odd rows) for a shorter dependency chain; reduced at the end.
  __m512d inertia[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  const __m512d one = _mm512_set1_pd(1.0);
  for (Index i = begin; i < end; ++i) {
    const float* x = X + static_cast<std::ptrdiff_t>(i) * ld;
    if (ahead > 0) prefetch(x + ahead * ld);
    const auto a = static_cast<std::size_t>(labels[i]) * static_cast<std::size_t>(dp);
    const __m512d wv = _mm512_set1_pd(w == nullptr ? 1.0 : static_cast<double>(w[i]));
    double* s = sums + a;
    const double* c = centres + a;
    __m512d part = _mm512_setzero_pd();
    if constexpr (Chunks > 0) {
      RECMIX_UNROLL for (int q = 0; q < Chunks; ++q) {
        __m512d xd = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(load[q], x + 8 * q));  // zeros beyond d
        const __m512d dv = _mm512_sub_pd(xd, _mm512_loadu_pd(c + 8 * q));
        part = _mm512_fmadd_pd(dv, dv, part);
        xd = _mm512_mask_mov_pd(xd, mass[q], one);  // the mass column
        _mm512_storeu_pd(s + 8 * q, _mm512_fmadd_pd(wv, xd, _mm512_loadu_pd(s + 8 * q)));
      }
    } else {
      for (Index j = 0; j < dp; j += 8) {
        const Index left = d - j;
        const __mmask8 m = left >= 8 ? static_cast<__mmask8>(0xFF) : left > 0 ? static_cast<__mmask8>((1U << left) - 1U) : static_cast<__mmask8>(0);
        __m512d xd = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + j));
        const __m512d dv = _mm512_sub_pd(xd, _mm512_loadu_pd(c + j));
        part = _mm512_fmadd_pd(dv, dv, part);
        if (left >= 0 && left < 8) xd = _mm512_mask_mov_pd(xd, static_cast<__mmask8>(1U << left), one);
        _mm512_storeu_pd(s + j, _mm512_fmadd_pd(wv, xd, _mm512_loadu_pd(s + j)));
      }
    }
    inertia[i & 1] = _mm512_fmadd_pd(wv, part, inertia[i & 1]);
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(inertia[0], inertia[1]));
}
#endif

/// Adds rows [begin, end) of X (row stride ld) to the sums of their clusters and returns their
/// weighted squared distances to their centres, all in double and in a fixed order, so the
/// result depends only on the inputs. sums: k rows of padded_dim(d) (column d is the mass);
/// centres: the centres in double, rows padded the same way with zeros; w: null or weights.
/// ahead > 0: prefetch the row that many rows ahead.
template <class S, class L>
inline double accumulate_rows(const S* X, std::ptrdiff_t ld, Index d, Index begin, Index end, const L* labels, const S* w,
                              double* sums, const double* centres, std::ptrdiff_t ahead) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<S, float>) {
    switch (padded_dim(d) / 8) {
      case 1: return accumulate_rows_avx512<1>(X, ld, d, begin, end, labels, w, sums, centres, ahead);
      case 2: return accumulate_rows_avx512<2>(X, ld, d, begin, end, labels, w, sums, centres, ahead);
      default: return accumulate_rows_avx512<0>(X, ld, d, begin, end, labels, w, sums, centres, ahead);
    }
  }
#endif
  const Index dp = padded_dim(d);
  double inertia = 0.0;
  for (Index i = begin; i < end; ++i) {
    const S* x = X + static_cast<std::ptrdiff_t>(i) * ld;
    if (ahead > 0) prefetch(x + ahead * ld);
    const auto a = static_cast<std::size_t>(labels[i]) * static_cast<std::size_t>(dp);
    const double wi = w == nullptr ? 1.0 : static_cast<double>(w[i]);
    double* s = sums + a;
    const double* c = centres + a;
    double part[4] = {0.0, 0.0, 0.0, 0.0};
    for (Index j = 0; j < d; ++j) {
      const double xj = static_cast<double>(x[j]);
      s[j] += wi * xj;
      const double dv = xj - c[j];
      part[j & 3] += dv * dv;
    }
    s[d] += wi;
    inertia += wi * ((part[0] + part[1]) + (part[2] + part[3]));
  }
  return inertia;
}

/// Portable path of nearest(): partial distances chunk by chunk, scanned in order.
template <class S>
Nearest<S> nearest_portable(const CentreTable<S>& t, const S* x, bool want_second) {
  Nearest<S> best;
  best.distance = std::numeric_limits<S>::infinity();
  best.second = std::numeric_limits<S>::infinity();
  alignas(64) S buf[kChunk];
  for (Index q = 0; q < t.chunks; ++q) {
    const Index first = q * t.width;
    const S* ct = t.transposed.data() + static_cast<std::ptrdiff_t>(q) * t.d * t.width;
    const S* cn = t.norms.data() + first;
    switch (t.width) {
      case 16:
        chunk_distances<S, 16, true>(x, S(0), t.d, ct, cn, buf);
        scan_chunk<S, 16>(buf, first, want_second, best);
        break;
      case 32:
        chunk_distances<S, 32, true>(x, S(0), t.d, ct, cn, buf);
        scan_chunk<S, 32>(buf, first, want_second, best);
        break;
      default:
        chunk_distances<S, kChunk, true>(x, S(0), t.d, ct, cn, buf);
        scan_chunk<S, kChunk>(buf, first, want_second, best);
        break;
    }
  }
  return best;
}

/// Up to kTile points whose nearest centres are wanted together, and the answers: for lane l <
/// count, the nearest centre of rows[l] (ties to the lower index), its partial distance
/// ‖c‖² − 2x·c and, when asked, the second smallest partial distance (equal to the first
/// when two centres tie). Lanes at and beyond count are ignored.
template <class S>
struct Tile {
  const S* rows[kTile] = {};
  int count = 0;
  alignas(64) Index index[kTile] = {};
  alignas(64) S best[kTile] = {};
  alignas(64) S second[kTile] = {};
};

/// Floats of scratch nearest_tile needs for points of d coordinates.
inline std::size_t tile_scratch_size(Index d) { return static_cast<std::size_t>(kTile) * static_cast<std::size_t>((d + 15) / 16 * 16) + 16; }

#if defined(__AVX512F__)
/// One running minimum per lane: the partial distance, its centre and (Second) the second
/// smallest partial distance seen so far.
struct LaneMin {
  __m512 best, second;
  __m512i index;
};

/// In-register transpose of a 16 x 16 block of floats: r[i][j] becomes r[j][i].
RECMIX_KMEANS_INLINE void transpose16(__m512 r[16]) {
  __m512 t[16];
  // Pairs of rows interleaved: t[2i] holds columns 0,1 | 4,5 | 8,9 | 12,13 of rows 2i and 2i+1, t[2i+1] the others.
  RECMIX_UNROLL for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4g + m]: 128-bit lane L holds rows 4g..4g+3 of column 4L + m.
  __m512 u[16];
  RECMIX_UNROLL for (int g = 0; g < 4; ++g) {
    const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
    const __m512d c = _mm512_castps_pd(t[4 * g + 1]), e = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, e));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, e));
  }
  // A 4 x 4 transpose of 128-bit lanes for each m gives columns m, 4 + m, 8 + m, 12 + m.
  RECMIX_UNROLL for (int m = 0; m < 4; ++m) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x44), v1 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xEE);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x44), v3 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xEE);
    r[m] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[4 + m] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[8 + m] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[12 + m] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

/// Takes centre c with partial distances `dist` into the running minimum (strict <, so of
/// equal distances the one seen first, the lower centre, stays).
template <bool Second>
RECMIX_KMEANS_INLINE void lane_update(LaneMin& m, __m512 dist, Index c) {
  const __mmask16 lower = _mm512_cmp_ps_mask(dist, m.best, _CMP_LT_OQ);
  if constexpr (Second) m.second = _mm512_mask_mov_ps(_mm512_min_ps(m.second, dist), lower, m.best);
  m.best = _mm512_mask_mov_ps(m.best, lower, dist);
  m.index = _mm512_mask_mov_epi32(m.index, lower, _mm512_set1_epi32(static_cast<int>(c)));
}

/// The tile kernel for float: 16 points, one per lane, gathered into d coordinate vectors;
/// centres taken kGroup at a time, each coordinate of a centre broadcast to every lane. Per
/// lane the arithmetic is the one a point always gets: even and odd coordinates summed in two
/// fused multiply-add chains, then ‖c‖² − 2(even + odd) fused. Two running minima (even and
/// odd centres) shorten the compare chain; merging them keeps the lower index on ties.
template <bool Second>
inline void nearest_tile_avx512(const CentreTable<float>& t, Tile<float>& tile, float* scratch) {
  const Index d = t.d;
  const int count = tile.count;
  // 64-byte aligned coordinate vectors: xt[j] holds coordinate j of the 16 points (rows loaded
  // 16 coordinates at a time and transposed in registers; lanes beyond count hold zeros).
  float* xt = reinterpret_cast<float*>((reinterpret_cast<std::uintptr_t>(scratch) + 63) & ~std::uintptr_t{63});
  for (Index p = 0; p < d; p += 16) {
    const Index width = std::min<Index>(16, d - p);
    const __mmask16 m = width >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1U << width) - 1U);
    __m512 r[16];
    RECMIX_UNROLL16 for (int l = 0; l < kTile; ++l) r[l] = l < count ? _mm512_maskz_loadu_ps(m, tile.rows[l] + p) : _mm512_setzero_ps();
    transpose16(r);
    RECMIX_UNROLL16 for (int j = 0; j < 16; ++j) _mm512_store_ps(xt + static_cast<std::ptrdiff_t>(p + j) * kTile, r[j]);
  }

  const __m512 inf = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  const __m512 two = _mm512_set1_ps(2.0f);
  LaneMin even_c{inf, inf, _mm512_setzero_si512()}, odd_c{inf, inf, _mm512_setzero_si512()};
  const float* cr = t.rows.data();
  const float* cn = t.row_norms.data();
  for (Index c0 = 0; c0 < t.padded_k; c0 += kGroup) {
    const float* g = cr + static_cast<std::ptrdiff_t>(c0) * d;
    __m512 e[kGroup], o[kGroup];
    RECMIX_UNROLL for (int u = 0; u < kGroup; ++u) e[u] = o[u] = _mm512_setzero_ps();
    Index j = 0;
    for (; j + 2 <= d; j += 2) {
      const __m512 x0 = _mm512_load_ps(xt + static_cast<std::ptrdiff_t>(j) * kTile);
      const __m512 x1 = _mm512_load_ps(xt + static_cast<std::ptrdiff_t>(j + 1) * kTile);
      RECMIX_UNROLL for (int u = 0; u < kGroup; ++u) {
        const float* cu = g + static_cast<std::ptrdiff_t>(u) * d + j;
        e[u] = _mm512_fmadd_ps(x0, _mm512_set1_ps(cu[0]), e[u]);
        o[u] = _mm512_fmadd_ps(x1, _mm512_set1_ps(cu[1]), o[u]);
      }
    }
    if (j < d) {
      const __m512 x0 = _mm512_load_ps(xt + static_cast<std::ptrdiff_t>(j) * kTile);
      RECMIX_UNROLL for (int u = 0; u < kGroup; ++u) {
        e[u] = _mm512_fmadd_ps(x0, _mm512_set1_ps(g[static_cast<std::ptrdiff_t>(u) * d + j]), e[u]);
      }
    }
    RECMIX_UNROLL for (int u = 0; u < kGroup; u += 2) {
      lane_update<Second>(even_c, _mm512_fnmadd_ps(two, _mm512_add_ps(e[u], o[u]), _mm512_set1_ps(cn[c0 + u])), c0 + u);
      lane_update<Second>(odd_c, _mm512_fnmadd_ps(two, _mm512_add_ps(e[u + 1], o[u + 1]), _mm512_set1_ps(cn[c0 + u + 1])),
                          c0 + u + 1);
    }
  }
  // Merge: the smaller distance, or on a tie the lower centre.
  const __mmask16 take_odd =
      _mm512_cmp_ps_mask(odd_c.best, even_c.best, _CMP_LT_OQ) |
      (_mm512_cmp_ps_mask(odd_c.best, even_c.best, _CMP_EQ_OQ) & _mm512_cmp_epi32_mask(odd_c.index, even_c.index, _MM_CMPINT_LT));
  _mm512_store_ps(tile.best, _mm512_mask_mov_ps(even_c.best, take_odd, odd_c.best));
  _mm512_store_si512(tile.index, _mm512_mask_mov_epi32(even_c.index, take_odd, odd_c.index));
  if constexpr (Second) {
    // Second smallest of the union: min(larger of the two minima, both second minima).
    _mm512_store_ps(tile.second, _mm512_min_ps(_mm512_max_ps(even_c.best, odd_c.best), _mm512_min_ps(even_c.second, odd_c.second)));
  }
}
#endif

/// Nearest centres of the points of a tile (see Tile). `scratch`: tile_scratch_size(d) floats.
/// Every caller (fit, Hamerly's recomputation, predict, predict_row) goes through here, so a
/// point and a set of centres always give the same partial distances and the same nearest
/// centre, whichever points share its tile.
template <class S>
inline void nearest_tile(const CentreTable<S>& t, Tile<S>& tile, bool want_second, S* scratch) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<S, float>) {
    if (want_second) {
      nearest_tile_avx512<true>(t, tile, scratch);
    } else {
      nearest_tile_avx512<false>(t, tile, scratch);
    }
    return;
  }
#endif
  (void)scratch;
  for (int l = 0; l < tile.count; ++l) {
    const Nearest<S> near = nearest_portable(t, tile.rows[l], want_second);
    tile.index[l] = near.index;
    tile.best[l] = near.distance;
    tile.second[l] = near.second;
  }
}

/// Nearest centre of one point x (a tile of one). With `want_distances`, `distance` (and
/// `second`, when asked) are the squared distances ‖x‖² + (‖c‖² − 2x·c), clamped at 0;
/// otherwise they are left as the partial values. The ranking itself never involves ‖x‖².
template <class S>
inline Nearest<S> nearest(const CentreTable<S>& t, const S* x, bool want_second, bool want_distances = true) {
  Tile<S> tile;
  tile.rows[0] = x;
  tile.count = 1;
  std::vector<S> scratch(tile_scratch_size(t.d));
  nearest_tile(t, tile, want_second, scratch.data());
  Nearest<S> best;
  best.index = tile.index[0];
  best.distance = tile.best[0];
  best.second = want_second ? tile.second[0] : S(0);
  if (want_distances) {
    const S xn = squared_norm(x, t.d);
    best.distance = std::max(S(0), xn + best.distance);
    if (want_second) best.second = std::max(S(0), xn + best.second);
  }
  return best;
}

}  // namespace recmix::cluster::detail
