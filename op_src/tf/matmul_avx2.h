// Float64 matrix product on TensorFlow's intra-op thread pool, with Eigen's contraction
// compiled for AVX2 + FMA (matmul_avx2.cc). TensorFlow's wheel builds its own float64
// MatMul for SSE only; this is the same algorithm with twice the vector width and fused
// multiply-adds. Call only where the CPU has AVX2 and FMA (see deepkit.ops).
#pragma once

#include <cstdint>

#include "unsupported/Eigen/CXX11/Tensor"

namespace deepkit {

void matmul_avx2(const Eigen::ThreadPoolDevice& device, bool transpose_a, bool transpose_b,
                 const double* a, int64_t a_rows, int64_t a_cols, const double* b, int64_t b_rows,
                 int64_t b_cols, double* c);

// The same for a batch: c[i] = op(a[i]) op(b[i]), (batch, rows, cols) row-major blocks,
// batch items spread over the thread pool.
void batch_matmul_avx2(const Eigen::ThreadPoolDevice& device, bool transpose_a, bool transpose_b,
                       int64_t batch, const double* a, int64_t a_rows, int64_t a_cols,
                       const double* b, int64_t b_rows, int64_t b_cols, double* c);

}  // namespace deepkit
