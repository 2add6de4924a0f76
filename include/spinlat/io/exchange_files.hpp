#pragma once
// Exchange parameters from other codes' files (docs/hamiltonian.md, "Exchange from files"):
// a VAMPIRE unit-cell file (.ucf), an UppASD input (inpsd.dat with its posfile, jfile and
// dmfile) and TB2J's exchange.out. Each reader converts its code's convention to spinlat's
//
//   E = −Σ_{i<j} ê_i·T_ij·ê_j,   T_ij = J_ij 1 + A(D_ij) + S_ij,
//
// each unordered pair once, ê unit moment directions, T in eV; A(D) the antisymmetric matrix
// with ê_i·A·ê_j = −D·(ê_i × ê_j) (so the DMI energy is +Σ_{i<j} D_ij·(ê_i × ê_j), as in the
// dmi term), S the symmetric traceless anisotropic exchange.
#include <string>
#include <vector>

#include "spinlat/core/types.hpp"

namespace spinlat {

/// One directed bond of the file's unit cell: from site `from` to site `to` displaced by
/// `vector` (Å, Cartesian). The reverse bond, when listed, carries Tᵀ.
struct ExchangeBond {
  int from = 0, to = 0;
  Vec3 vector = Vec3::Zero();
  Mat3 T = Mat3::Zero();  ///< eV
  int line = 0;           ///< where it was read (messages)
};

struct ExchangeFile {
  std::string path;                 ///< the file named in the input
  std::string format;               ///< "vampire", "uppasd" or "tb2j"
  Mat3 cell = Mat3::Identity();     ///< rows a1, a2, a3 (Å) of the file's unit cell
  std::vector<Vec3> site;           ///< Cartesian positions (Å) of the magnetic sites
  std::vector<std::string> label;   ///< a name per site (species or TB2J's Fe1, ...)
  std::vector<ExchangeBond> bonds;  ///< every directed bond read (both directions as listed)
};

/// Reads `path` in `format` ("vampire", "uppasd", "tb2j", or "auto": .ucf → vampire,
/// a name containing "inpsd" → uppasd, a file whose text has "Exchange:" → tb2j).
/// Throws InputError naming the file, the line and what was expected.
ExchangeFile read_exchange_file(const std::string& path, const std::string& format = "auto");

ExchangeFile read_vampire_ucf(const std::string& path);
/// `path` is UppASD's inpsd.dat; its `cell`, `alat`, `posfile`, `posfiletype`, `exchange`,
/// `dm` and `maptype` entries name and describe the other files (relative to its folder).
ExchangeFile read_uppasd(const std::string& path);
ExchangeFile read_tb2j(const std::string& path);

/// The site of `f` at `r` modulo its cell (within `tolerance` Å), −1 if none.
int site_at(const ExchangeFile& f, const Vec3& r, double tolerance = 2e-3);

/// Adds the reverse of every bond listed in one direction only (Tᵀ), and checks the pairs
/// listed in both directions agree (T_ji = T_ijᵀ within `tolerance` eV plus 1e-3 relative):
/// InputError naming both lines otherwise.
void complete_reverse_bonds(ExchangeFile& f, double tolerance = 2e-7);

}  // namespace spinlat
