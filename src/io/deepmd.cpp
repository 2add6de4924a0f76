// deepmd/npy systems and the .npy format they are made of.
//
// .npy: NumPy's NEP 1 ("A simple file format for NumPy arrays"): the magic "\x93NUMPY", a
// major/minor version byte pair, the header length (uint16 little-endian in 1.0, uint32 in
// 2.0 and 3.0; 3.0 only allows a UTF-8 header), then a Python dict literal with 'descr',
// 'fortran_order' and 'shape', padded with spaces and a newline, then the raw data.
// deepmd/npy: deepmd-kit's data format (docs/data/system.md and the spin examples of
// deepmd-kit 2.2, examples/spin/data_reformat): type.raw, type_map.raw and set.*/ *.npy, one
// row per frame; deepmd reshapes every array to [nframes, per-frame size], so we accept any
// shape whose first axis is the frame count (or a flat array of the right size).
#include "spinlat/io/deepmd.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"

namespace spinlat {
namespace fs = std::filesystem;

std::size_t NpyArray::size() const {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

namespace {

struct HeaderParser {
  const std::string& s;
  const std::string& name;
  std::size_t i = 0;

  [[noreturn]] void fail(const std::string& msg) const {
    throw InputError(name, "", 0, "malformed .npy header (" + msg + "): '" + s.substr(0, 120) + "'");
  }
  void skip() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  void expect(char c) {
    skip();
    if (i >= s.size() || s[i] != c) fail(std::string("expected '") + c + "'");
    ++i;
  }
  std::string quoted() {
    skip();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) fail("expected a quoted string");
    const char q = s[i++];
    const std::size_t end = s.find(q, i);
    if (end == std::string::npos) fail("unterminated string");
    std::string t = s.substr(i, end - i);
    i = end + 1;
    return t;
  }
  bool boolean() {
    skip();
    if (s.compare(i, 4, "True") == 0) return i += 4, true;
    if (s.compare(i, 5, "False") == 0) return i += 5, false;
    fail("fortran_order must be True or False");
  }
  std::vector<std::size_t> shape() {
    expect('(');
    std::vector<std::size_t> out;
    for (;;) {
      skip();
      if (i < s.size() && s[i] == ')') {
        ++i;
        break;
      }
      if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) fail("shape must be a tuple of integers");
      std::uint64_t v = 0;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        v = v * 10 + static_cast<std::uint64_t>(s[i++] - '0');
        if (v > (std::uint64_t(1) << 40)) fail("a dimension is larger than 2^40");
      }
      if (i < s.size() && s[i] == 'L') ++i;  // Python 2 long
      out.push_back(static_cast<std::size_t>(v));
      if (out.size() > 32) fail("more than 32 dimensions");
      skip();
      if (i < s.size() && s[i] == ',') {
        ++i;
      } else if (i < s.size() && s[i] == ')') {
        ++i;
        break;
      } else {
        fail("expected ',' or ')' in shape");
      }
    }
    return out;
  }
};

std::uint64_t little_endian(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

}  // namespace

NpyArray parse_npy(const std::string& bytes, const std::string& name) {
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    throw InputError(name, "", 0, "not a .npy file (no \\x93NUMPY magic)");
  const int major = u[6], minor = u[7];
  if (major < 1 || major > 3 || minor != 0)
    throw InputError(name, "", 0, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                                      " (expected 1.0, 2.0 or 3.0)");
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_bytes) throw InputError(name, "", 0, "truncated .npy header");
  const std::uint64_t header_len = little_endian(u + 8, static_cast<int>(len_bytes));
  const std::size_t start = 8 + len_bytes;
  if (header_len > bytes.size() - start)
    throw InputError(name, "", 0, "truncated .npy header: it declares " + std::to_string(header_len) + " bytes, the file has " +
                                      std::to_string(bytes.size() - start) + " after the length");
  const std::string header = bytes.substr(start, static_cast<std::size_t>(header_len));

  HeaderParser p{header, name};
  std::string descr;
  bool have_descr = false, have_order = false, have_shape = false, fortran = false;
  std::vector<std::size_t> shape;
  p.expect('{');
  for (;;) {
    p.skip();
    if (p.i < header.size() && header[p.i] == '}') {
      ++p.i;
      break;
    }
    const std::string key = p.quoted();
    p.expect(':');
    if (key == "descr" && !have_descr) {
      descr = p.quoted();
      have_descr = true;
    } else if (key == "fortran_order" && !have_order) {
      fortran = p.boolean();
      have_order = true;
    } else if (key == "shape" && !have_shape) {
      shape = p.shape();
      have_shape = true;
    } else {
      p.fail("unexpected or repeated key '" + key + "'");
    }
    p.skip();
    if (p.i < header.size() && header[p.i] == ',') {
      ++p.i;
    } else if (p.i < header.size() && header[p.i] == '}') {
      ++p.i;
      break;
    } else {
      p.fail("expected ',' or '}'");
    }
  }
  p.skip();
  if (p.i != header.size()) p.fail("text after the closing '}'");
  if (!have_descr || !have_order || !have_shape) p.fail("needs 'descr', 'fortran_order' and 'shape'");
  if (fortran)
    throw InputError(name, "", 0, "Fortran-ordered arrays are not supported; save with numpy.ascontiguousarray");

  int item = 0;
  char kind = 0;
  if (descr == "<f8") item = 8, kind = 'f';
  else if (descr == "<f4") item = 4, kind = 'f';
  else if (descr == "<i8") item = 8, kind = 'i';
  else if (descr == "<i4") item = 4, kind = 'i';
  else
    throw InputError(name, "", 0, "dtype '" + descr + "' is not supported (expected little-endian float64 '<f8', "
                                  "float32 '<f4', int64 '<i8' or int32 '<i4')");

  NpyArray a;
  a.shape = shape;
  // The element count, checked against the bytes present before anything is allocated.
  const std::size_t data_bytes = bytes.size() - start - static_cast<std::size_t>(header_len);
  std::uint64_t n = 1;
  for (std::size_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / 8 / d) {
      throw InputError(name, "", 0, "the shape describes more data than the file holds");
    }
    n *= d;
  }
  if (n * static_cast<std::uint64_t>(item) != data_bytes)
    throw InputError(name, "", 0, "the shape (" + std::to_string(n) + " values of " + std::to_string(item) +
                                      " bytes) does not match the " + std::to_string(data_bytes) + " data bytes");
  a.data.resize(static_cast<std::size_t>(n));
  const unsigned char* d = u + start + header_len;
  for (std::size_t k = 0; k < a.data.size(); ++k, d += item) {
    const std::uint64_t bits = little_endian(d, item);
    if (kind == 'f' && item == 8) {
      double x;
      std::memcpy(&x, &bits, 8);
      a.data[k] = x;
    } else if (kind == 'f') {
      const std::uint32_t b32 = static_cast<std::uint32_t>(bits);
      float x;
      std::memcpy(&x, &b32, 4);
      a.data[k] = static_cast<double>(x);
    } else if (item == 8) {
      std::int64_t x;
      std::memcpy(&x, &bits, 8);
      a.data[k] = static_cast<double>(x);
    } else {
      const std::uint32_t b32 = static_cast<std::uint32_t>(bits);
      std::int32_t x;
      std::memcpy(&x, &b32, 4);
      a.data[k] = static_cast<double>(x);
    }
  }
  return a;
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", 0, "cannot open the .npy file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(path, "", 0, "reading the .npy file failed");
  return parse_npy(bytes, path);
}

// .npz: a zip archive (PKWARE APPNOTE 6.3) of .npy files, as numpy.savez writes it: entries
// stored without compression, found through the central directory (whose sizes hold even when
// a local header defers them to a data descriptor); ZIP64 extra fields are read where a size
// or offset is 0xFFFFFFFF.
std::map<std::string, NpyArray> read_npz(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", 0, "cannot open the .npz file");
  const std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* u = reinterpret_cast<const unsigned char*>(b.data());
  auto fail = [&](const std::string& msg) -> void { throw InputError(path, "", 0, "not a readable .npz file: " + msg); };
  auto at = [&](std::size_t off, int bytes) {
    if (off + static_cast<std::size_t>(bytes) > b.size()) fail("truncated");
    return little_endian(u + off, bytes);
  };
  // End of central directory record: 22 bytes plus a comment of up to 65535.
  std::size_t eocd = std::string::npos;
  if (b.size() >= 22)
    for (std::size_t k = b.size() - 21; k-- > 0 && b.size() - k <= 22 + 65535;)
      if (little_endian(u + k, 4) == 0x06054b50) {
        eocd = k;
        break;
      }
  if (eocd == std::string::npos) fail("no zip end-of-central-directory record");
  const std::uint64_t entries = at(eocd + 10, 2);
  std::size_t p = static_cast<std::size_t>(at(eocd + 16, 4));
  std::map<std::string, NpyArray> out;
  for (std::uint64_t e = 0; e < entries; ++e) {
    if (at(p, 4) != 0x02014b50) fail("bad central directory entry");
    const auto method = at(p + 10, 2);
    std::uint64_t csize = at(p + 20, 4), usize = at(p + 24, 4), local = at(p + 42, 4);
    const std::size_t nlen = at(p + 28, 2), xlen = at(p + 30, 2), clen = at(p + 32, 2);
    if (p + 46 + nlen > b.size()) fail("truncated");
    const std::string name = b.substr(p + 46, nlen);
    for (std::size_t x = p + 46 + nlen; x + 4 <= p + 46 + nlen + xlen;) {  // ZIP64 extra field
      const auto id = at(x, 2), len = at(x + 2, 2);
      std::size_t f = x + 4;
      if (id == 0x0001) {
        if (usize == 0xFFFFFFFFu) usize = at(f, 8), f += 8;
        if (csize == 0xFFFFFFFFu) csize = at(f, 8), f += 8;
        if (local == 0xFFFFFFFFu) local = at(f, 8);
      }
      x += 4 + len;
    }
    if (method != 0)
      fail("entry '" + name + "' is compressed (numpy.savez_compressed); write it with numpy.savez");
    if (csize != usize) fail("entry '" + name + "': stored sizes differ");
    if (at(local, 4) != 0x04034b50) fail("bad local header of '" + name + "'");
    const std::size_t data = static_cast<std::size_t>(local + 30 + at(local + 26, 2) + at(local + 28, 2));
    if (data + csize > b.size()) fail("entry '" + name + "' runs past the end of the file");
    std::string key = name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    out[key] = parse_npy(b.substr(data, static_cast<std::size_t>(csize)), path + ":" + name);
    p += 46 + nlen + xlen + clen;
  }
  return out;
}

namespace {

std::vector<std::string> read_words(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path.string(), "", 0, "cannot open the file");
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

/// A per-frame array: `per_frame` values for each of `frames` frames (frames = 0: unknown,
/// taken from the array).
struct Table {
  std::vector<double> data;
  std::size_t frames = 0;
};

Table load_table(const fs::path& path, std::size_t per_frame, std::size_t frames, const std::string& what) {
  const std::string name = path.string();
  const NpyArray a = read_npy(name);
  const std::size_t n = a.data.size();
  if (frames == 0) {
    if (n == 0 || n % per_frame != 0)
      throw InputError(name, "", 0, "expected " + what + ": " + std::to_string(per_frame) + " values per frame, got " +
                                        std::to_string(n) + " values");
    frames = n / per_frame;
  }
  // deepmd reshapes to [nframes, per_frame]: the first axis must be the frame count (a flat
  // array is accepted for one frame, or for one value per frame).
  const bool flat_ok = a.shape.size() == 1 && (frames == 1 || per_frame == 1);
  const bool rows_ok = a.shape.size() >= 2 && a.shape[0] == frames;
  std::string shape;
  for (std::size_t k = 0; k < a.shape.size(); ++k) shape += (k ? ", " : "") + std::to_string(a.shape[k]);
  if (n != frames * per_frame || !(flat_ok || rows_ok))
    throw InputError(name, "", 0, "shape (" + shape + ") does not fit " + std::to_string(frames) + " frames of " + what +
                                      " (" + std::to_string(per_frame) + " values per frame)");
  for (std::size_t k = 0; k < n; ++k)
    if (!std::isfinite(a.data[k]))
      throw InputError(name, "", 0, "value " + std::to_string(k) + " (frame " + std::to_string(k / per_frame) +
                                        ") is not finite");
  return {a.data, frames};
}

}  // namespace

std::vector<Frame> read_deepmd(const std::string& dir) {
  const fs::path root(dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw InputError(dir, "", 0, "not a deepmd/npy system directory");
  const fs::path type_path = root / "type.raw", map_path = root / "type_map.raw";
  if (!fs::exists(type_path, ec)) throw InputError(type_path.string(), "", 0, "missing: a deepmd system needs type.raw");
  if (!fs::exists(map_path, ec))
    throw InputError(map_path.string(), "", 0, "missing: the species names (type_map.raw, one per type) are needed");
  if (fs::exists(root / "nopbc", ec))
    throw InputError((root / "nopbc").string(), "", 0, "non-periodic deepmd systems are not supported");

  const std::vector<std::string> type_map = read_words(map_path);
  if (type_map.empty()) throw InputError(map_path.string(), "", 0, "no species names");
  std::vector<int> types;
  for (const std::string& w : read_words(type_path)) {
    std::size_t used = 0;
    long t = -1;
    try {
      t = std::stol(w, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != w.size() || t < 0 || t >= static_cast<long>(type_map.size()))
      throw InputError(type_path.string(), "", 0, "atom " + std::to_string(types.size()) + ": type '" + w +
                                                      "' is not an integer from 0 to " + std::to_string(type_map.size() - 1) +
                                                      " (type_map.raw has " + std::to_string(type_map.size()) + " names)");
    types.push_back(static_cast<int>(t));
  }
  if (types.empty()) throw InputError(type_path.string(), "", 0, "no atoms");
  const std::size_t n = types.size();

  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && e.path().filename().string().rfind("set.", 0) == 0) sets.push_back(e.path());
  if (ec) throw InputError(dir, "", 0, "cannot list the directory: " + ec.message());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) throw InputError(dir, "", 0, "no set.* directories");

  // Species by first appearance, as the extended XYZ reader numbers them.
  std::vector<int> index_of(type_map.size(), -1);
  std::vector<std::string> names;
  for (int t : types)
    if (index_of[static_cast<std::size_t>(t)] < 0) {
      index_of[static_cast<std::size_t>(t)] = static_cast<int>(names.size());
      names.push_back(type_map[static_cast<std::size_t>(t)]);
    }

  const char* optional_files[] = {"force.npy", "spin.npy", "force_mag.npy", "virial.npy"};
  std::vector<bool> present;
  for (const char* f : optional_files) present.push_back(fs::exists(sets.front() / f, ec));
  std::vector<Frame> frames;
  for (const fs::path& set : sets) {
    for (const char* required : {"box.npy", "coord.npy", "energy.npy"})
      if (!fs::exists(set / required, ec))
        throw InputError((set / required).string(), "", 0, "missing: every set needs box.npy, coord.npy and energy.npy");
    for (std::size_t k = 0; k < present.size(); ++k)
      if (fs::exists(set / optional_files[k], ec) != present[k])
        throw InputError((set / optional_files[k]).string(), "", 0,
                         std::string(present[k] ? "missing" : "present") + " here but " + (present[k] ? "present" : "missing") +
                             " in " + sets.front().filename().string() + " (ragged sets: every set must carry the same files)");
    if (present[2] && !present[1])
      throw InputError((set / "force_mag.npy").string(), "", 0, "magnetic forces need the moments (spin.npy)");

    const Table coord = load_table(set / "coord.npy", 3 * n, 0, "positions");
    const std::size_t nf = coord.frames;
    const Table box = load_table(set / "box.npy", 9, nf, "cells");
    const Table energy = load_table(set / "energy.npy", 1, nf, "energies");
    Table force, spin, fmag, virial;
    if (present[0]) force = load_table(set / "force.npy", 3 * n, nf, "forces");
    if (present[1]) spin = load_table(set / "spin.npy", 3 * n, nf, "moments");
    if (present[2]) fmag = load_table(set / "force_mag.npy", 3 * n, nf, "magnetic forces");
    if (present[3]) virial = load_table(set / "virial.npy", 9, nf, "virials");

    for (std::size_t f = 0; f < nf; ++f) {
      Frame fr;
      System& s = fr.system;
      for (int k = 0; k < 9; ++k) s.cell.h(k / 3, k % 3) = box.data[9 * f + static_cast<std::size_t>(k)];
      const double scale = s.cell.h.row(0).norm() * s.cell.h.row(1).norm() * s.cell.h.row(2).norm();
      if (!(std::abs(s.cell.h.determinant()) > 1e-10 * scale))
        throw InputError((set / "box.npy").string(), "", 0, "frame " + std::to_string(f) + ": the cell has zero volume");
      s.cell.periodic = {true, true, true};
      s.species_name = names;
      for (const std::string& nm : names) s.species_mass.push_back(element_mass(nm));
      auto vec = [&](const Table& t, std::size_t i) {
        const std::size_t o = 3 * n * f + 3 * i;
        return Vec3(t.data[o], t.data[o + 1], t.data[o + 2]);
      };
      std::vector<Vec3> magmom;
      for (std::size_t i = 0; i < n; ++i) {
        const Vec3 m = present[1] ? vec(spin, i) : Vec3::Zero();
        const int sp = index_of[static_cast<std::size_t>(types[i])];
        s.add_atom(vec(coord, i), sp, m.norm(), m, sp);
        magmom.push_back(m);
      }
      fr.info["REF_energy"] = energy.data[f];
      if (present[0]) {
        auto& v = fr.vectors["REF_forces"];
        for (std::size_t i = 0; i < n; ++i) v.push_back(vec(force, i));
      }
      if (present[1]) {
        fr.vectors["REF_magmom"] = magmom;
        fr.moment_source = "REF_magmom";
      }
      if (present[2]) {
        auto& v = fr.vectors["REF_magforces"];
        for (std::size_t i = 0; i < n; ++i) v.push_back(vec(fmag, i));
      }
      if (present[3]) fr.info_arrays["REF_virial"] = std::vector<double>(virial.data.begin() + 9 * f, virial.data.begin() + 9 * f + 9);
      frames.push_back(std::move(fr));
    }
  }
  return frames;
}

}  // namespace spinlat
