#include "slot_contract.h"

#include <string>

#include "errors.h"

namespace deepkit {

std::vector<int64_t> slot_offsets(const int* count, int64_t n, int64_t rows) {
  std::vector<int64_t> offset(n + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    if (count[i] < 0) {
      throw InputError("slot_contract: count[" + std::to_string(i) + "] = " +
                       std::to_string(count[i]) + " is negative");
    }
    offset[i + 1] = offset[i] + count[i];
  }
  if (offset[n] != rows) {
    throw InputError("slot_contract: the counts add up to " + std::to_string(offset[n]) +
                     " slots, but " + std::to_string(rows) + " rows are given");
  }
  return offset;
}

namespace {

// The loops with the component count C known at compile time (se_e2_a's 4, se_e2_r's 1),
// so the per-slot products vectorise; C = 0 takes c from the argument.
template <typename T, int C>
void contract(T* __restrict out, const T* __restrict g, const T* __restrict r,
              const std::vector<int64_t>& offset, int64_t m, int64_t c_arg, int64_t begin,
              int64_t end) {
  const int64_t c = C > 0 ? C : c_arg;
  constexpr int64_t kTile = 4;  // rows of t summed in registers over all of an atom's slots
  for (int64_t i = begin; i < end; ++i) {
    T* t = out + i * m * c;
    int64_t a0 = 0;
    if (C > 0) {
      for (; a0 + kTile <= m; a0 += kTile) {
        T acc[kTile][C > 0 ? C : 1] = {};
        for (int64_t p = offset[i]; p < offset[i + 1]; ++p) {
          const T* gp = g + p * m + a0;
          const T* rp = r + p * C;
          for (int64_t a = 0; a < kTile; ++a) {
            for (int64_t b = 0; b < C; ++b) acc[a][b] += gp[a] * rp[b];
          }
        }
        for (int64_t a = 0; a < kTile; ++a) {
          for (int64_t b = 0; b < C; ++b) t[(a0 + a) * C + b] = acc[a][b];
        }
      }
    }
    for (int64_t k = a0 * c; k < m * c; ++k) t[k] = 0;
    for (int64_t p = offset[i]; p < offset[i + 1]; ++p) {
      const T* gp = g + p * m;
      const T* rp = r + p * c;
      for (int64_t a = a0; a < m; ++a) {
        for (int64_t b = 0; b < c; ++b) t[a * c + b] += gp[a] * rp[b];
      }
    }
  }
}

template <typename T, int C>
void grad_g_rows(T* __restrict grad_g, const T* __restrict dout, const T* __restrict r,
                 const std::vector<int64_t>& offset, int64_t m, int64_t c_arg, int64_t begin,
                 int64_t end) {
  const int64_t c = C > 0 ? C : c_arg;
  for (int64_t i = begin; i < end; ++i) {
    const T* d = dout + i * m * c;
    for (int64_t p = offset[i]; p < offset[i + 1]; ++p) {
      const T* rp = r + p * c;
      T* gp = grad_g + p * m;
      for (int64_t a = 0; a < m; ++a) {
        T sum = 0;
        for (int64_t b = 0; b < c; ++b) sum += d[a * c + b] * rp[b];
        gp[a] = sum;
      }
    }
  }
}

template <typename T, int C>
void grad_r_rows(T* __restrict grad_r, const T* __restrict dout, const T* __restrict g,
                 const std::vector<int64_t>& offset, int64_t m, int64_t c_arg, int64_t begin,
                 int64_t end) {
  const int64_t c = C > 0 ? C : c_arg;
  for (int64_t i = begin; i < end; ++i) {
    const T* d = dout + i * m * c;
    for (int64_t p = offset[i]; p < offset[i + 1]; ++p) {
      const T* gp = g + p * m;
      T acc[C > 0 ? C : 8] = {};
      T* rp = grad_r + p * c;
      if (C > 0) {
        for (int64_t a = 0; a < m; ++a) {
          for (int64_t b = 0; b < C; ++b) acc[b] += gp[a] * d[a * C + b];
        }
        for (int64_t b = 0; b < C; ++b) rp[b] = acc[b];
      } else {
        for (int64_t b = 0; b < c; ++b) rp[b] = 0;
        for (int64_t a = 0; a < m; ++a) {
          for (int64_t b = 0; b < c; ++b) rp[b] += gp[a] * d[a * c + b];
        }
      }
    }
  }
}

}  // namespace

#define DEEPKIT_BY_COMPONENTS(KERNEL, ...)                              \
  if (c == 4) return KERNEL<T, 4>(__VA_ARGS__, m, c, begin, end);       \
  if (c == 1) return KERNEL<T, 1>(__VA_ARGS__, m, c, begin, end);       \
  return KERNEL<T, 0>(__VA_ARGS__, m, c, begin, end);

template <typename T>
void slot_contract(T* out, const T* g, const T* r, const std::vector<int64_t>& offset, int64_t m,
                   int64_t c, int64_t begin, int64_t end) {
  DEEPKIT_BY_COMPONENTS(contract, out, g, r, offset)
}

template <typename T>
void slot_contract_grad_g(T* grad_g, const T* dout, const T* r, const std::vector<int64_t>& offset,
                          int64_t m, int64_t c, int64_t begin, int64_t end) {
  DEEPKIT_BY_COMPONENTS(grad_g_rows, grad_g, dout, r, offset)
}

template <typename T>
void slot_contract_grad_r(T* grad_r, const T* dout, const T* g, const std::vector<int64_t>& offset,
                          int64_t m, int64_t c, int64_t begin, int64_t end) {
  DEEPKIT_BY_COMPONENTS(grad_r_rows, grad_r, dout, g, offset)
}
#undef DEEPKIT_BY_COMPONENTS

#define DEEPKIT_SLOT_CONTRACT(T)                                                             \
  template void slot_contract<T>(T*, const T*, const T*, const std::vector<int64_t>&, int64_t, \
                                 int64_t, int64_t, int64_t);                                                   \
  template void slot_contract_grad_g<T>(T*, const T*, const T*, const std::vector<int64_t>&,   \
                                        int64_t, int64_t, int64_t, int64_t);                                   \
  template void slot_contract_grad_r<T>(T*, const T*, const T*, const std::vector<int64_t>&,   \
                                        int64_t, int64_t, int64_t, int64_t);
DEEPKIT_SLOT_CONTRACT(float)
DEEPKIT_SLOT_CONTRACT(double)
#undef DEEPKIT_SLOT_CONTRACT

}  // namespace deepkit
