#pragma once
// SO(3) toolkit for the native equivariant model: real spherical and solid harmonics and real
// Clebsch-Gordan coefficients, all in one real basis (see docs/learned-potential.md,
// "SO(3) conventions"):
//  - order m = −l..l; for l = 1 the components are (y, z, x);
//  - "component" normalisation as e3nn/MACE: Σ_m Y_lm(x̂)² = 2l+1, Y_00 = 1, i.e. √(4π) times
//    the orthonormal real harmonics, no Condon-Shortley phase (Y_1 = √3 (y, z, x)/|v|);
//  - Clebsch-Gordan tensors C[m1,m2,M] couple l1 ⊗ l2 → L in that basis, orthonormal over
//    (m1,m2) and real.
// The torch functions use differentiable ATen ops only (twice differentiable: force training
// runs a double backward); the double functions evaluate the same polynomial tables.
#include <ATen/ATen.h>

#include <vector>

namespace spinlat::so3 {

/// Largest l the harmonics accept (the model uses l ≤ 4).
inline constexpr int kMaxL = 6;

/// Real spherical harmonics of the direction of each row of v [E,3] (v need not be unit;
/// a zero row gives NaN), for l = 0..l_max: out[l] is [E, 2l+1] in v's dtype and device.
std::vector<at::Tensor> spherical_harmonics(const at::Tensor& v, int l_max);

/// Solid harmonics |v|^l Y_l(v̂): homogeneous polynomials of degree l in the components,
/// smooth at v = 0 (zero there for l > 0, with finite derivatives). out[l] is [E, 2l+1].
std::vector<at::Tensor> solid_harmonics(const at::Tensor& v, int l_max);

/// Real Clebsch-Gordan coefficients C[m1,m2,M] (float64, CPU, [2l1+1, 2l2+1, 2L+1]) for
/// l1 ⊗ l2 → L: Racah's formula for the complex (Condon-Shortley) coefficients, then the
/// unitary change to the real basis; a zero tensor when |l1−l2| ≤ L ≤ l1+l2 fails.
/// Σ_{m1,m2} C[m1,m2,M] C[m1,m2,M'] = δ_{MM'}, and Σ_{ab} C[a,b,c] Y_l1(x)_a Y_l2(y)_b
/// transforms under rotations like Y_L. For l1+l2+L odd the transformed coefficients are
/// purely imaginary and are returned multiplied by −i (still real and equivariant).
/// Returns a fresh tensor (cached internally; thread-safe).
at::Tensor clebsch_gordan(int l1, int l2, int L);

/// Plain double versions (same tables): values for l = 0..l_max concatenated,
/// (l_max+1)² numbers, l-block at offset l².
void spherical_harmonics(const double v[3], int l_max, double* out);
void solid_harmonics(const double v[3], int l_max, double* out);
/// Reverse-mode products of the two above: out = Σ_k g[k] ∂out_k/∂v for g of (l_max+1)²
/// numbers (the plain C++ backward passes of the native model).
void spherical_harmonics_vjp(const double v[3], int l_max, const double* g, double out[3]);
void solid_harmonics_vjp(const double v[3], int l_max, const double* g, double out[3]);

/// Real Clebsch-Gordan coefficients as plain doubles, row-major [2l1+1][2l2+1][2L+1].
std::vector<double> clebsch_gordan_values(int l1, int l2, int L);

/// The table both paths evaluate: S_l(v) = M_l(v) · T_l, row-major [n_l][2l+1], where M_l are
/// the n_l = (l+1)(l+2)/2 monomials of degree l in the order of the recursion
/// M_0 = {1}; M_l = [x·M_{l−1}, y·(the last l entries of M_{l−1}), z·(its last entry)]
/// (for the TorchScript export, which repeats that evaluation).
std::vector<double> solid_harmonic_table(int l);

}  // namespace spinlat::so3
