// Forces and virials from the derivative of the energy with respect to the environment
// matrix, and the gradients of those products (for training on forces and virials).
//
// Shared shapes (one frame, row-major):
//   net_deriv  (nloc, nnei, ncomp)      dE / d em
//   em_deriv   (nloc, nnei, ncomp, 3)   d em / d r_ij from env_mat
//   rij        (nloc, nnei, 3)          r_j - r_i
//   nlist      (nloc, nnei)             index in [0, nall) or -1
// With g_ij = sum_c net_deriv[i,j,c] * em_deriv[i,j,c,:] = dE/dr_ij, the products are
//   force[i] += g_ij,  force[j] -= g_ij                       (F = -dE/dr)
//   virial[a,b] -= g_ij[a] * rij[b],  atom_virial[j,a,b] -= g_ij[a] * rij[b]
// Atoms nloc..nall-1 are ghosts (external neighbour lists): their forces and atomic virials
// are returned for the caller to fold back onto the atoms they image.
// Scatter sums go through per-thread buffers reduced in a fixed order, so results are
// reproducible for a given thread count.
#pragma once

namespace deepkit {

// Throws InputError unless every nlist entry is -1 or in [0, nall).
void check_nlist(const int* nlist, int nloc, int nnei, int nall);

// virial[k] = sum_j atom_virial[j, k], summed over atoms in index order: independent of
// how the atomic virials were computed.
void sum_atom_virial(double* virial, const double* atom_virial, int nall);

void prod_force(double* force /* (nall, 3) */, const double* net_deriv, const double* em_deriv,
                const int* nlist, int nloc, int nall, int nnei, int ncomp);

void prod_virial(double* virial /* (9) */, double* atom_virial /* (nall, 9) */,
                 const double* net_deriv, const double* em_deriv, const double* rij,
                 const int* nlist, int nloc, int nall, int nnei, int ncomp);

// d L / d net_deriv given grad_force = dL/dforce (nall, 3).
void prod_force_grad(double* grad_net /* (nloc, nnei, ncomp) */, const double* grad_force,
                     const double* em_deriv, const int* nlist, int nloc, int nnei, int ncomp);

// d L / d net_deriv given grad_virial = dL/dvirial (9) and grad_atom_virial (nall, 9).
void prod_virial_grad(double* grad_net /* (nloc, nnei, ncomp) */, const double* grad_virial,
                      const double* grad_atom_virial, const double* em_deriv, const double* rij,
                      const int* nlist, int nloc, int nnei, int ncomp);

}  // namespace deepkit
