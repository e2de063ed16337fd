// G^T R over the occupied neighbour slots of each atom, the slots stored compactly.
//
// The occupied slots of atom i are rows offset[i] .. offset[i+1] - 1 of g (K, m) and
// r (K, c), offset the running sum of count (n,). Then
//   out[i]       = sum_p g[p]^T r[p]            (m, c)          slot_contract
//   grad_g[p]    = dout[i] r[p]^T               (m,)  per slot  slot_contract_grad_g
//   grad_r[p]    = dout[i]^T g[p]               (c,)  per slot  slot_contract_grad_r
// for p in atom i's rows. The three are bilinear and each one's derivatives are the others,
// so first and second derivatives (training on forces) need no other kernel.
// Each kernel covers atoms [begin, end): the caller shares the atoms out among its threads
// (TensorFlow's pool: OpenMP threads spinning between the many calls of a step would take
// the cores from TensorFlow's own kernels).
#pragma once

#include <cstdint>
#include <vector>

namespace deepkit {

// offset (n + 1) from count (n,); throws InputError unless every count is >= 0 and they add
// up to rows, the slots stored.
std::vector<int64_t> slot_offsets(const int* count, int64_t n, int64_t rows);

template <typename T>
void slot_contract(T* out /* (n, m, c) */, const T* g, const T* r,
                   const std::vector<int64_t>& offset, int64_t m, int64_t c, int64_t begin,
                   int64_t end);

template <typename T>
void slot_contract_grad_g(T* grad_g /* (K, m) */, const T* dout, const T* r,
                          const std::vector<int64_t>& offset, int64_t m, int64_t c, int64_t begin,
                          int64_t end);

template <typename T>
void slot_contract_grad_r(T* grad_r /* (K, c) */, const T* dout, const T* g,
                          const std::vector<int64_t>& offset, int64_t m, int64_t c, int64_t begin,
                          int64_t end);

}  // namespace deepkit
