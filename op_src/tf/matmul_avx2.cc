// Compiled with -mavx2 -mfma and hidden visibility (setup.py): these Eigen instantiations
// stay private to deepkit's library.
#define EIGEN_USE_THREADS
#include "tf/matmul_avx2.h"

#include "Eigen/Core"

namespace deepkit {

void matmul_avx2(const Eigen::ThreadPoolDevice& device, bool transpose_a, bool transpose_b,
                 const double* a, int64_t a_rows, int64_t a_cols, const double* b, int64_t b_rows,
                 int64_t b_cols, double* c) {
  using Matrix = Eigen::TensorMap<Eigen::Tensor<const double, 2, Eigen::RowMajor>, Eigen::Aligned>;
  using Output = Eigen::TensorMap<Eigen::Tensor<double, 2, Eigen::RowMajor>, Eigen::Aligned>;
  Matrix ma(a, a_rows, a_cols), mb(b, b_rows, b_cols);
  Output mc(c, transpose_a ? a_cols : a_rows, transpose_b ? b_rows : b_cols);
  const Eigen::array<Eigen::IndexPair<int>, 1> dims = {
      Eigen::IndexPair<int>(transpose_a ? 0 : 1, transpose_b ? 1 : 0)};
  mc.device(device) = ma.contract(mb, dims);
}

void batch_matmul_avx2(const Eigen::ThreadPoolDevice& device, bool transpose_a, bool transpose_b,
                       int64_t batch, const double* a, int64_t a_rows, int64_t a_cols,
                       const double* b, int64_t b_rows, int64_t b_cols, double* c) {
  using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const int64_t m = transpose_a ? a_cols : a_rows, n = transpose_b ? b_rows : b_cols;
  const int64_t k = transpose_a ? a_rows : a_cols;
  auto work = [&](Eigen::Index begin, Eigen::Index end) {
    for (Eigen::Index i = begin; i < end; ++i) {
      Eigen::Map<const Matrix> ma(a + i * a_rows * a_cols, a_rows, a_cols);
      Eigen::Map<const Matrix> mb(b + i * b_rows * b_cols, b_rows, b_cols);
      Eigen::Map<Matrix> mc(c + i * m * n, m, n);
      if (transpose_a && transpose_b) {
        mc.noalias() = ma.transpose() * mb.transpose();
      } else if (transpose_a) {
        mc.noalias() = ma.transpose() * mb;
      } else if (transpose_b) {
        mc.noalias() = ma * mb.transpose();
      } else {
        mc.noalias() = ma * mb;
      }
    }
  };
  const double flops = 2.0 * static_cast<double>(m) * n * k;
  device.parallelFor(batch, Eigen::TensorOpCost(8.0 * (m * k + k * n), 8.0 * m * n, flops), work);
}

}  // namespace deepkit
