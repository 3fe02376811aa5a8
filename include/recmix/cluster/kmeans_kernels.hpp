#pragma once
/// @file
/// The arithmetic of k-means, as free functions tests can reach: squared distances of one point
/// to a table of centres (‖x‖² − 2x·c + ‖c‖², vectorised across the centres), nearest and second
/// nearest centre, and the fixed-block partition that keeps every sum independent of the
/// thread count.
///
/// Centres are stored transposed in chunks of up to 64 (d x width per chunk, width 8, 16, 32
/// or 64), so for each coordinate of a point one broadcast multiplies a row of centres held
/// in vector registers; padding centres have ‖c‖² = +inf and are never nearest. Every point
/// goes through the same sequence of operations wherever it is processed (a fit, Hamerly's
/// recomputation, predict), so the same point and centres always give the same distances.

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
#elif defined(__GNUC__)
#define RECMIX_UNROLL _Pragma("GCC unroll 8")
#else
#define RECMIX_UNROLL
#endif

namespace recmix::cluster::detail {

/// Points per block: the unit of work and of partial sums (fixed, so results do not depend on
/// the thread count).
inline constexpr Index kBlock = 4096;
/// Widest chunk of centres one kernel call handles.
inline constexpr Index kChunk = 64;

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
  std::vector<S> transposed;  ///< chunks x d x width
  std::vector<S> norms;       ///< chunks x width; +inf for padding

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
#pragma omp simd
    for (int c = 0; c < W; ++c) {
      even[c] += x0 * r0[c];
      odd[c] += x1 * r1[c];
    }
  }
  if (j < d) {
    const S x0 = x[j];
    const S* r0 = ct + static_cast<std::ptrdiff_t>(j) * W;
#pragma omp simd
    for (int c = 0; c < W; ++c) even[c] += x0 * r0[c];
  }
  if constexpr (Partial) {
#pragma omp simd
    for (int c = 0; c < W; ++c) out[c] = cn[c] - S(2) * (even[c] + odd[c]);
  } else {
#pragma omp simd
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

/// Sums row stride for accumulate_point: d rounded up to a multiple of 8 doubles, so the
/// vector path loads and stores whole registers (a masked store cannot forward to the next
/// point's load of the same cluster).
inline Index padded_dim(Index d) { return (d + 7) / 8 * 8; }

/// Adds w x to the centre sum s (double, padded_dim(d) entries, the padding stays 0) and
/// returns ‖x − c‖² in double (c: the centre in double, padded the same way with zeros).
/// Both in a fixed order, so the result depends only on the inputs.
template <class S>
RECMIX_KMEANS_INLINE double accumulate_point(const S* x, Index d, double w, double* s, const double* c) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<S, float>) {
    __m512d part = _mm512_setzero_pd();
    const __m512d wv = _mm512_set1_pd(w);
    for (Index j = 0; j < d; j += 8) {
      const Index left = d - j;
      const __mmask8 m = left >= 8 ? static_cast<__mmask8>(0xFF) : static_cast<__mmask8>((1U << left) - 1U);
      const __m512d xd = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + j));  // zeros beyond d
      _mm512_storeu_pd(s + j, _mm512_fmadd_pd(wv, xd, _mm512_loadu_pd(s + j)));
      const __m512d dv = _mm512_sub_pd(xd, _mm512_loadu_pd(c + j));
      part = _mm512_fmadd_pd(dv, dv, part);
    }
    return _mm512_reduce_add_pd(part);
  }
#endif
  double part[4] = {0.0, 0.0, 0.0, 0.0};
  for (Index j = 0; j < d; ++j) {
    const double xj = static_cast<double>(x[j]);
    s[j] += w * xj;
    const double dv = xj - c[j];
    part[j & 3] += dv * dv;
  }
  return (part[0] + part[1]) + (part[2] + part[3]);
}

#if defined(__AVX512F__)
/// AVX-512 nearest centre for float: one chunk of W = 16..64 centres in 1..4 registers, the
/// minimum and its lowest lane found with a reduction and a compare mask.
template <int W>
RECMIX_KMEANS_INLINE void nearest_chunk_avx512(const float* x, Index d, const float* ct, const float* cn, Index first,
                                               bool want_second, Nearest<float>& best) {
  constexpr int Q = W / 16;
  __m512 even[Q], odd[Q];
  RECMIX_UNROLL for (int q = 0; q < Q; ++q) even[q] = odd[q] = _mm512_setzero_ps();
  Index j = 0;
  for (; j + 2 <= d; j += 2) {
    const __m512 x0 = _mm512_set1_ps(x[j]), x1 = _mm512_set1_ps(x[j + 1]);
    const float* r0 = ct + static_cast<std::ptrdiff_t>(j) * W;
    RECMIX_UNROLL for (int q = 0; q < Q; ++q) {
      even[q] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(r0 + 16 * q), even[q]);
      odd[q] = _mm512_fmadd_ps(x1, _mm512_loadu_ps(r0 + W + 16 * q), odd[q]);
    }
  }
  if (j < d) {
    const __m512 x0 = _mm512_set1_ps(x[j]);
    const float* r0 = ct + static_cast<std::ptrdiff_t>(j) * W;
    RECMIX_UNROLL for (int q = 0; q < Q; ++q) even[q] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(r0 + 16 * q), even[q]);
  }
  const __m512 two = _mm512_set1_ps(2.0f);
  __m512 dist[Q];
  __m512 m = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  RECMIX_UNROLL for (int q = 0; q < Q; ++q) {
    dist[q] = _mm512_fnmadd_ps(two, _mm512_add_ps(even[q], odd[q]), _mm512_loadu_ps(cn + 16 * q));
    m = _mm512_min_ps(m, dist[q]);
  }
  const float mv = _mm512_reduce_min_ps(m);
  if (mv < best.distance) {
    const __m512 mb = _mm512_set1_ps(mv);
    int at = 0;
    RECMIX_UNROLL for (int q = 0; q < Q; ++q) {
      const auto mask = static_cast<unsigned>(_mm512_cmp_ps_mask(dist[q], mb, _CMP_EQ_OQ));
      if (mask != 0) {
        at = 16 * q + __builtin_ctz(mask);
        break;
      }
    }
    if (want_second) {
      __m512 s = _mm512_set1_ps(best.distance);
      const __m512 inf = _mm512_set1_ps(std::numeric_limits<float>::infinity());
      RECMIX_UNROLL for (int q = 0; q < Q; ++q) {
        const int lane = at - 16 * q;
        const __mmask16 self = lane >= 0 && lane < 16 ? static_cast<__mmask16>(1U << lane) : static_cast<__mmask16>(0);
        s = _mm512_min_ps(s, _mm512_mask_mov_ps(dist[q], self, inf));
      }
      best.second = _mm512_reduce_min_ps(s);
    }
    best.distance = mv;
    best.index = first + at;
  } else if (want_second && mv < best.second) {
    best.second = mv;
  }
}
#endif

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

/// Nearest centre of x. With `want_distances`, `distance` (and `second`, when asked) are the
/// squared distances ‖x‖² + (‖c‖² − 2x·c), clamped at 0; otherwise they are left as the
/// partial values. The ranking itself never involves ‖x‖².
template <class S>
RECMIX_KMEANS_INLINE Nearest<S> nearest(const CentreTable<S>& t, const S* x, bool want_second, bool want_distances = true) {
  Nearest<S> best;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<S, float>) {
    if (t.width >= 16) {
      best.distance = std::numeric_limits<S>::infinity();
      best.second = std::numeric_limits<S>::infinity();
      for (Index q = 0; q < t.chunks; ++q) {
        const Index first = q * t.width;
        const float* ct = t.transposed.data() + static_cast<std::ptrdiff_t>(q) * t.d * t.width;
        const float* cn = t.norms.data() + first;
        switch (t.width) {
          case 16: nearest_chunk_avx512<16>(x, t.d, ct, cn, first, want_second, best); break;
          case 32: nearest_chunk_avx512<32>(x, t.d, ct, cn, first, want_second, best); break;
          default: nearest_chunk_avx512<kChunk>(x, t.d, ct, cn, first, want_second, best); break;
        }
      }
    } else {
      best = nearest_portable(t, x, want_second);
    }
  } else {
    best = nearest_portable(t, x, want_second);
  }
#else
  best = nearest_portable(t, x, want_second);
#endif
  if (want_distances) {
    const S xn = squared_norm(x, t.d);
    best.distance = std::max(S(0), xn + best.distance);
    if (want_second) best.second = std::max(S(0), xn + best.second);
  }
  return best;
}

}  // namespace recmix::cluster::detail
