// GPU cell-list neighbour search; same list as op_src/lib/neighbor_list.cc.
//
// Instead of materialising periodic images (the CPU kernel's approach), the home box is
// split into cells in fractional coordinates and each centre visits the cells within
// `reach` of its own, wrapping the cell index and remembering the lattice shift; an image
// is then (atom, shift). Candidates within rcut are collected by one warp per centre in
// shared memory and placed by rank: slot = (number of candidates of the same block with a
// smaller (r^2, atom, shift) key), which is exactly the CPU's sort order, so the lists are
// identical. A block is the candidate's type, or block 0 for every type in mixed mode.
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <cmath>
#include <string>

#include "../errors.h"
#include "device_util.cuh"
#include "kernels_gpu.h"

namespace deepkit {
namespace gpu {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kShiftRange = 1023;  // |lattice shift| per axis encodable in a candidate key

struct GridInfo {
  double h[9];         // cell vectors as rows (periodic)
  double inv[9];       // frac = cart . inv
  double lo[3];        // open systems: grid origin and extent in Cartesian coordinates
  double width[3];
  int n[3];            // cells per axis
  int reach[3];        // cells to visit on either side of a centre's own
  int periodic;
  int valid;
};

struct WarpScratch {
  double r2[kMaxCandidates];
  long long shift_key[kMaxCandidates];  // 0: home copy; else 1 + lexicographic shift index
  int atom[kMaxCandidates];
  int block[kMaxCandidates];
  int count[kMaxTypes];
  int n;
};

struct Sel {
  int begin[kMaxTypes + 1];
  int mixed;  // mixed_types: one block, begin[0..1], shared by all types
};

__device__ long long encode_shift(int s0, int s1, int s2) {
  if (s0 == 0 && s1 == 0 && s2 == 0) return 0;
  const long long w = 2 * kShiftRange + 1;
  return 1 + ((s0 + kShiftRange) * w + (s1 + kShiftRange)) * w + (s2 + kShiftRange);
}

__device__ void decode_shift(long long key, double* s) {
  if (key == 0) {
    s[0] = s[1] = s[2] = 0.0;
    return;
  }
  const long long w = 2 * kShiftRange + 1;
  key -= 1;
  s[2] = static_cast<double>(key % w - kShiftRange);
  key /= w;
  s[1] = static_cast<double>(key % w - kShiftRange);
  s[0] = static_cast<double>(key / w - kShiftRange);
}

// Image position p + s . h, computed as the CPU kernel does (pos + offset, offset summed
// over cell vectors in order) so that distances agree to the last bit.
__device__ void image_position(const GridInfo& g, const double* p, const double* s, double* out) {
  if (s[0] == 0.0 && s[1] == 0.0 && s[2] == 0.0) {
    for (int r = 0; r < 3; ++r) out[r] = p[r];
    return;
  }
  for (int r = 0; r < 3; ++r) {
    const double offset = s[0] * g.h[r] + s[1] * g.h[3 + r] + s[2] * g.h[6 + r];
    out[r] = p[r] + offset;
  }
}

__device__ double norm3(const double* a) { return sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]); }

// Number of cells along an axis `thickness` thick (cells a little thicker than rcut/2) and
// how many of them a centre must look across.
__device__ void axis_cells(double thickness, double rcut, int* n, int* reach) {
  const double cells = floor(thickness * 2.0 * (1.0 - 1e-9) / rcut);
  *n = static_cast<int>(fmax(1.0, fmin(cells, 1e6)));
  *reach = thickness > 0 ? static_cast<int>(ceil(rcut * *n / thickness * (1.0 + 1e-10))) : 0;
}

// One block: bounding box of the coordinates (open systems) and the grid.
__global__ void setup_grid(GridInfo* grid, Status* status, const double* coord, const double* box,
                           int natoms, double rcut) {
  __shared__ double lo[3][1024], hi[3][1024];
  const int t = threadIdx.x;
  for (int k = 0; k < 3; ++k) {
    lo[k][t] = INFINITY;
    hi[k][t] = -INFINITY;
  }
  for (int i = t; i < natoms; i += blockDim.x) {
    for (int k = 0; k < 3; ++k) {
      lo[k][t] = fmin(lo[k][t], coord[3 * i + k]);
      hi[k][t] = fmax(hi[k][t], coord[3 * i + k]);
    }
  }
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) {
      for (int k = 0; k < 3; ++k) {
        lo[k][t] = fmin(lo[k][t], lo[k][t + stride]);
        hi[k][t] = fmax(hi[k][t], hi[k][t + stride]);
      }
    }
    __syncthreads();
  }
  if (t != 0) return;

  GridInfo g;
  g.valid = 1;
  g.periodic = 0;
  if (box != nullptr) {
    for (int k = 0; k < 9; ++k) g.periodic |= (box[k] != 0.0);
  }
  double thickness[3];
  if (g.periodic) {
    bool finite = true;
    for (int k = 0; k < 9; ++k) {
      g.h[k] = box[k];
      finite = finite && isfinite(box[k]);
    }
    double normals[9];  // b x c, c x a, a x b
    for (int k = 0; k < 3; ++k) {
      const double* a = box + 3 * ((k + 1) % 3);
      const double* b = box + 3 * ((k + 2) % 3);
      normals[3 * k] = a[1] * b[2] - a[2] * b[1];
      normals[3 * k + 1] = a[2] * b[0] - a[0] * b[2];
      normals[3 * k + 2] = a[0] * b[1] - a[1] * b[0];
    }
    const double det = box[0] * normals[0] + box[1] * normals[1] + box[2] * normals[2];
    const double scale = norm3(box) * norm3(box + 3) * norm3(box + 6);
    if (!finite || !(fabs(det) > 1e-10 * scale)) {
      set_status(status, kBadBox, 0, 0);
      g.valid = 0;
    }
    for (int k = 0; k < 3; ++k) {
      for (int r = 0; r < 3; ++r) g.inv[r * 3 + k] = normals[3 * k + r] / det;
      thickness[k] = fabs(det) / norm3(normals + 3 * k);
      g.lo[k] = 0.0;
      g.width[k] = 1.0;
    }
  } else {
    for (int k = 0; k < 3; ++k) {
      g.lo[k] = natoms > 0 ? lo[k][0] : 0.0;
      g.width[k] = natoms > 0 ? hi[k][0] - lo[k][0] : 0.0;
      if (!isfinite(g.width[k])) g.width[k] = 0.0;  // a non-finite coordinate: flagged later
      thickness[k] = g.width[k];
    }
  }
  long total = 1;
  for (int k = 0; k < 3; ++k) {
    axis_cells(g.valid ? thickness[k] : 0.0, rcut, &g.n[k], &g.reach[k]);
    total *= g.n[k];
  }
  // As on the CPU: sparse systems get coarser cells, keeping the cell arrays O(natoms).
  const long cap = max(64L, 4L * natoms);
  while (total > cap) {
    int k = 0;
    if (g.n[1] > g.n[k]) k = 1;
    if (g.n[2] > g.n[k]) k = 2;
    total /= g.n[k];
    g.n[k] = (g.n[k] + 1) / 2;
    total *= g.n[k];
  }
  for (int k = 0; k < 3; ++k) {
    if (g.valid && thickness[k] > 0) {
      g.reach[k] = static_cast<int>(ceil(rcut * g.n[k] / thickness[k] * (1.0 + 1e-10)));
    }
    if (g.periodic) g.reach[k] = min(g.reach[k], kShiftRange * g.n[k]);
  }
  *grid = g;
}

__device__ int cell_index(const GridInfo& g, const double* gc, int* idx) {
  for (int k = 0; k < 3; ++k) {
    const double t = g.width[k] > 0 ? (gc[k] - g.lo[k]) / g.width[k] * g.n[k] : 0.0;
    idx[k] = min(g.n[k] - 1, max(0, static_cast<int>(floor(t))));
  }
  return (idx[0] * g.n[1] + idx[1]) * g.n[2] + idx[2];
}

// Validates each atom, wraps it into the home box (periodic) and counts atoms per cell.
// Types as on the CPU (neighbor_rows.cc): in mixed mode only a negative one is refused.
__global__ void wrap_atoms(double* pos, int* cell_of, int* cell_count, Status* status,
                           const GridInfo* grid, const double* coord, const int* atype,
                           int natoms, int ntypes, int mixed) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= natoms) return;
  const GridInfo& g = *grid;
  if (!g.valid) return;
  if (atype[i] < 0 || (!mixed && atype[i] >= ntypes)) set_status(status, kBadType, i, atype[i]);
  const double* c = coord + 3 * i;
  if (!isfinite(c[0]) || !isfinite(c[1]) || !isfinite(c[2])) {
    set_status(status, kNonFiniteCoord, i, 0);
  }
  double gc[3], p[3];
  if (g.periodic) {
    double shift[3];
    for (int k = 0; k < 3; ++k) {
      double f = 0;
      for (int r = 0; r < 3; ++r) f += c[r] * g.inv[r * 3 + k];
      shift[k] = floor(f);
      f -= shift[k];
      if (f >= 1.0) f = 0.0;
      gc[k] = f;
    }
    for (int r = 0; r < 3; ++r) {
      p[r] = c[r] - (shift[0] * g.h[r] + shift[1] * g.h[3 + r] + shift[2] * g.h[6 + r]);
    }
  } else {
    for (int k = 0; k < 3; ++k) gc[k] = p[k] = c[k];
  }
  int idx[3];
  const int cell = cell_index(g, gc, idx);
  for (int k = 0; k < 3; ++k) pos[3 * i + k] = p[k];
  cell_of[i] = cell;
  atomicAdd(cell_count + cell, 1);
}

__global__ void fill_cells(int* cell_atom, double* cell_pos, int* cell_fill, const int* cell_start,
                           const int* cell_of, const double* pos, const GridInfo* grid,
                           int natoms) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= natoms || !grid->valid) return;
  const int c = cell_of[i];
  const int q = cell_start[c] + atomicAdd(cell_fill + c, 1);
  cell_atom[q] = i;
  for (int k = 0; k < 3; ++k) cell_pos[3 * q + k] = pos[3 * i + k];
}

__device__ bool key_less(const WarpScratch& w, int a, int b) {
  if (w.r2[a] != w.r2[b]) return w.r2[a] < w.r2[b];
  if (w.atom[a] != w.atom[b]) return w.atom[a] < w.atom[b];
  return w.shift_key[a] < w.shift_key[b];
}

// One warp per centre: collect every image within rcut, rank it among its block, write.
__global__ void search(int* nlist, double* rij, int* max_count, Status* status,
                       const GridInfo* grid, const int* cell_start, const int* cell_atom,
                       const double* cell_pos, const int* cell_of, const double* pos,
                       const int* atype, int natoms, int ntypes, Sel sel, double rcut) {
  extern __shared__ unsigned char smem[];
  WarpScratch& w = reinterpret_cast<WarpScratch*>(smem)[threadIdx.x / 32];
  const int lane = threadIdx.x % 32;
  const int i = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (i >= natoms || status->code != kOk) return;  // bad types would index out of bounds
  const GridInfo& g = *grid;
  const int nnei = sel.begin[ntypes];
  for (int t = lane; t < ntypes; t += 32) w.count[t] = 0;
  if (lane == 0) w.n = 0;
  __syncwarp();

  const double* ri = pos + 3 * i;
  const int c = cell_of[i];
  const int ci[3] = {c / (g.n[1] * g.n[2]), (c / g.n[2]) % g.n[1], c % g.n[2]};
  const int span[3] = {2 * g.reach[0] + 1, 2 * g.reach[1] + 1, 2 * g.reach[2] + 1};
  const int noff = span[0] * span[1] * span[2];
  const double rcut2 = rcut * rcut;
  for (int o = lane; o < noff; o += 32) {
    const int off[3] = {o / (span[1] * span[2]) - g.reach[0], (o / span[2]) % span[1] - g.reach[1],
                        o % span[2] - g.reach[2]};
    int wrapped[3], shift[3];
    bool inside = true;
    for (int k = 0; k < 3; ++k) {
      const int u = ci[k] + off[k];
      if (g.periodic) {
        wrapped[k] = ((u % g.n[k]) + g.n[k]) % g.n[k];
        shift[k] = (u - wrapped[k]) / g.n[k];
      } else {
        inside = inside && u >= 0 && u < g.n[k];
        wrapped[k] = u;
        shift[k] = 0;
      }
    }
    if (!inside) continue;
    const double s[3] = {static_cast<double>(shift[0]), static_cast<double>(shift[1]),
                         static_cast<double>(shift[2])};
    const long long skey = encode_shift(shift[0], shift[1], shift[2]);
    const int cell = (wrapped[0] * g.n[1] + wrapped[1]) * g.n[2] + wrapped[2];
    for (int q = cell_start[cell]; q < cell_start[cell + 1]; ++q) {
      const int j = cell_atom[q];
      if (j == i && skey == 0) continue;
      double pj[3];
      image_position(g, cell_pos + 3 * q, s, pj);
      const double dx = pj[0] - ri[0], dy = pj[1] - ri[1], dz = pj[2] - ri[2];
      const double r2 = dx * dx + dy * dy + dz * dz;
      if (!(r2 < rcut2)) continue;
      const int slot = atomicAdd(&w.n, 1);
      const int bj = sel.mixed ? 0 : atype[j];
      atomicAdd(&w.count[bj], 1);
      if (slot < kMaxCandidates) {
        w.r2[slot] = r2;
        w.atom[slot] = j;
        w.shift_key[slot] = skey;
        w.block[slot] = bj;
      }
    }
  }
  __syncwarp();
  const int found = w.n;
  if (found > kMaxCandidates) {
    if (lane == 0) set_status(status, kTooManyCandidates, i, found);
    return;
  }
  int* row = nlist + static_cast<long>(i) * nnei;
  double* row_rij = rij + static_cast<long>(i) * nnei * 3;
  for (int a = lane; a < found; a += 32) {
    if (w.r2[a] == 0.0) set_status(status, kOverlap, i, w.atom[a]);
    const int t = w.block[a];
    int rank = 0;
    for (int b = 0; b < found; ++b) rank += (w.block[b] == t && key_less(w, b, a));
    if (rank >= sel.begin[t + 1] - sel.begin[t]) continue;
    const int s_idx = sel.begin[t] + rank;
    double s[3], pj[3];
    decode_shift(w.shift_key[a], s);
    image_position(g, pos + 3 * w.atom[a], s, pj);
    row[s_idx] = w.atom[a];
    for (int k = 0; k < 3; ++k) row_rij[3 * s_idx + k] = pj[k] - ri[k];
  }
  for (int s_idx = lane; s_idx < nnei; s_idx += 32) {
    int t = 0;
    while (sel.begin[t + 1] <= s_idx) ++t;
    if (s_idx - sel.begin[t] >= w.count[t]) {
      row[s_idx] = -1;
      for (int k = 0; k < 3; ++k) row_rij[3 * s_idx + k] = 0.0;
    }
  }
  for (int t = lane; t < ntypes; t += 32) atomicMax(max_count + t, w.count[t]);
}

size_t align_up(size_t n) { return (n + 255) / 256 * 256; }

struct Layout {
  size_t grid, pos, cell_of, cell_count, cell_start, cell_fill, cell_atom, cell_pos, scan, total;
  size_t scan_bytes;
  long ncells_cap;
};

Layout layout(int natoms) {
  Layout l;
  l.ncells_cap = std::max(64L, 4L * natoms);
  const size_t n = static_cast<size_t>(natoms);
  const size_t cells = static_cast<size_t>(l.ncells_cap) + 1;
  l.scan_bytes = 0;
  cub::DeviceScan::ExclusiveSum(nullptr, l.scan_bytes, static_cast<int*>(nullptr),
                                static_cast<int*>(nullptr), static_cast<int>(cells));
  size_t at = 0;
  auto take = [&](size_t bytes) {
    const size_t here = at;
    at += align_up(bytes);
    return here;
  };
  l.grid = take(sizeof(GridInfo));
  l.pos = take(3 * n * sizeof(double));
  l.cell_of = take(n * sizeof(int));
  l.cell_count = take(cells * sizeof(int));
  l.cell_start = take(cells * sizeof(int));
  l.cell_fill = take(cells * sizeof(int));
  l.cell_atom = take(n * sizeof(int));
  l.cell_pos = take(3 * n * sizeof(double));
  l.scan = take(l.scan_bytes);
  l.total = at;
  return l;
}

}  // namespace

size_t neighbor_list_workspace_bytes(int natoms) { return layout(natoms).total; }

void build_neighbor_list(int* nlist, double* rij, int* max_count, Status* status,
                         void* workspace, const double* coord, const int* atype,
                         const double* box, int natoms, int ntypes, const int* sel, double rcut,
                         bool mixed_types, cudaStream_t stream) {
  if (natoms < 0) throw InputError("natoms is negative");
  if (ntypes <= 0) throw InputError("sel is empty: it needs one entry per atom type");
  if (mixed_types && ntypes != 1) {
    throw InputError("mixed_types takes exactly one sel entry (the slots all types share), got " +
                     std::to_string(ntypes));
  }
  if (ntypes > kMaxTypes) {
    throw InputError("the GPU neighbour search supports at most " + std::to_string(kMaxTypes) +
                     " atom types, got " + std::to_string(ntypes));
  }
  if (!(rcut > 0) || !std::isfinite(rcut)) throw InputError("rcut must be a positive number");
  Sel begin;
  begin.begin[0] = 0;
  begin.mixed = mixed_types;
  for (int t = 0; t < ntypes; ++t) {
    if (sel[t] < 0) throw InputError("sel[" + std::to_string(t) + "] is negative");
    begin.begin[t + 1] = begin.begin[t] + sel[t];
  }
  cudaMemsetAsync(max_count, 0, ntypes * sizeof(int), stream);
  if (natoms == 0) return;

  const Layout l = layout(natoms);
  char* ws = static_cast<char*>(workspace);
  auto* grid = reinterpret_cast<GridInfo*>(ws + l.grid);
  auto* pos = reinterpret_cast<double*>(ws + l.pos);
  auto* cell_of = reinterpret_cast<int*>(ws + l.cell_of);
  auto* cell_count = reinterpret_cast<int*>(ws + l.cell_count);
  auto* cell_start = reinterpret_cast<int*>(ws + l.cell_start);
  auto* cell_fill = reinterpret_cast<int*>(ws + l.cell_fill);
  auto* cell_atom = reinterpret_cast<int*>(ws + l.cell_atom);
  auto* cell_pos = reinterpret_cast<double*>(ws + l.cell_pos);
  const int ncells = static_cast<int>(l.ncells_cap) + 1;
  cudaMemsetAsync(cell_count, 0, ncells * sizeof(int), stream);
  cudaMemsetAsync(cell_fill, 0, ncells * sizeof(int), stream);

  setup_grid<<<1, 1024, 0, stream>>>(grid, status, coord, box, natoms, rcut);
  check_launch("setup_grid");
  const int threads = 256;
  wrap_atoms<<<blocks_for(natoms, threads), threads, 0, stream>>>(
      pos, cell_of, cell_count, status, grid, coord, atype, natoms, ntypes, begin.mixed);
  check_launch("wrap_atoms");
  size_t scan_bytes = l.scan_bytes;
  cub::DeviceScan::ExclusiveSum(ws + l.scan, scan_bytes, cell_count, cell_start, ncells, stream);
  fill_cells<<<blocks_for(natoms, threads), threads, 0, stream>>>(
      cell_atom, cell_pos, cell_fill, cell_start, cell_of, pos, grid, natoms);
  check_launch("fill_cells");

  const size_t smem = kWarpsPerBlock * sizeof(WarpScratch);
  static const cudaError_t attr =
      cudaFuncSetAttribute(search, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  (void)attr;
  search<<<blocks_for(natoms, kWarpsPerBlock), 32 * kWarpsPerBlock, smem, stream>>>(
      nlist, rij, max_count, status, grid, cell_start, cell_atom, cell_pos, cell_of, pos, atype,
      natoms, ntypes, begin, rcut);
  check_launch("search");
}

}  // namespace gpu
}  // namespace deepkit
