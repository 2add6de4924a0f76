// Crash-safe checkpoint files; see include/spinlat/io/checkpoint.hpp.
#include "spinlat/io/checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/version.hpp"

namespace spinlat {

namespace {

const char* kFormat = "spinlat-checkpoint";
// Version 2: every saved object state in the one encoding of core/state_io.hpp. Version-1
// files (token streams, raw binary, local hex formats) are refused with a clear message.
constexpr std::int64_t kFormatVersion = 2;

std::string label(const Checkpoint& c) { return c.source.empty() ? std::string("checkpoint") : c.source; }

[[noreturn]] void missing(const Checkpoint& c, const std::string& name, const std::string& kind) {
  std::string msg = "no " + kind + " entry of this name in the checkpoint";
  if (c.has(name)) msg += " (it is stored as another kind)";
  throw InputError(label(c), name, 0, msg);
}

// 64-bit FNV-1a (Fowler, Noll & Vo): a cheap checksum that detects damaged files; not a
// cryptographic hash.
struct Fnv1a {
  std::uint64_t h = 14695981039346656037ull;
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t k = 0; k < n; ++k) {
      h ^= b[k];
      h *= 1099511628211ull;
    }
  }
  void entry(char kind, const std::string& name, const void* data, std::size_t n) {
    bytes(&kind, 1);
    bytes(name.data(), name.size());
    const std::uint64_t len = n;
    bytes(&len, sizeof len);
    bytes(data, n);
  }
};

std::uint64_t checksum(const Checkpoint& c) {
  Fnv1a f;
  for (const auto& [name, b] : c.blobs) f.entry('b', name, b.data(), b.size());
  for (const auto& [name, v] : c.reals) f.entry('r', name, v.data(), v.size() * sizeof(double));
  for (const auto& [name, v] : c.integers) f.entry('i', name, v.data(), v.size() * sizeof(std::int64_t));
  return f.h;
}

void check_names(const Checkpoint& c) {
  std::vector<std::string> all;
  auto add = [&](const std::string& kind, const std::string& name) {
    bool bad = name.empty() || name.front() == '/' || name.back() == '/' || name.find("//") != std::string::npos;
    for (const auto& part : h5::split_path(name)) bad = bad || part == "." || part == "..";
    if (bad) throw std::invalid_argument("checkpoint: invalid " + kind + " name '" + name + "'");
    all.push_back(kind + "/" + name);
  };
  for (const auto& e : c.blobs) add("blobs", e.first);
  for (const auto& e : c.reals) add("reals", e.first);
  for (const auto& e : c.integers) add("integers", e.first);
  // "a" and "a/b" cannot both exist: "a" would have to be a dataset and a group.
  std::sort(all.begin(), all.end());
  for (std::size_t k = 1; k < all.size(); ++k)
    if (all[k].compare(0, all[k - 1].size() + 1, all[k - 1] + "/") == 0)
      throw std::invalid_argument("checkpoint: entry '" + all[k - 1] + "' is also a prefix of '" + all[k] + "'");
}

void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), O_RDONLY | (directory ? O_DIRECTORY : 0));
  if (fd < 0) throw std::runtime_error("checkpoint: cannot open '" + path + "' to sync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("checkpoint: cannot sync '" + path + "': " + std::strerror(err));
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

// ---- Checkpoint accessors --------------------------------------------------------------------

bool Checkpoint::has(const std::string& name) const {
  return blobs.count(name) != 0 || reals.count(name) != 0 || integers.count(name) != 0;
}

const std::string& Checkpoint::blob(const std::string& name) const {
  const auto it = blobs.find(name);
  if (it == blobs.end()) missing(*this, name, "blob");
  return it->second;
}

const std::vector<double>& Checkpoint::real_array(const std::string& name) const {
  const auto it = reals.find(name);
  if (it == reals.end()) missing(*this, name, "real");
  return it->second;
}

const std::vector<std::int64_t>& Checkpoint::integer_array(const std::string& name) const {
  const auto it = integers.find(name);
  if (it == integers.end()) missing(*this, name, "integer");
  return it->second;
}

double Checkpoint::real(const std::string& name) const {
  const auto& v = real_array(name);
  if (v.size() != 1) throw InputError(label(*this), name, 0, "expected one real, found " + std::to_string(v.size()));
  return v[0];
}

std::int64_t Checkpoint::integer(const std::string& name) const {
  const auto& v = integer_array(name);
  if (v.size() != 1)
    throw InputError(label(*this), name, 0, "expected one integer, found " + std::to_string(v.size()));
  return v[0];
}

// ---- files -----------------------------------------------------------------------------------

std::string checkpoint_path(const std::string& output) { return output + ".ckpt"; }

std::string stage_checkpoint(const std::string& path, const Checkpoint& c) {
  check_names(c);
  const std::string tmp = path + ".tmp";
  try {
    h5::File f = h5::File::create(tmp);
    f.set_attr("/", "format", kFormat);
    f.set_attr("/", "format_version", kFormatVersion);
    f.set_attr("/", "spinlat_version", std::string(kVersion));
    f.set_attr("/", "created", iso_time_now());
    for (const char* g : {"/blobs", "/reals", "/integers"}) f.create_group(g);
    for (const auto& [name, b] : c.blobs) f.write_bytes(h5::join_path("/blobs", name), b);
    for (const auto& [name, v] : c.reals) f.write(h5::join_path("/reals", name), v);
    for (const auto& [name, v] : c.integers) f.write(h5::join_path("/integers", name), v);
    // The checksum goes last: a file cut short before it is recognisably incomplete.
    f.set_attr("/", "checksum", checksum(c));
    f.flush();
    f.close();
    fsync_path(tmp, false);
  } catch (...) {
    ::unlink(tmp.c_str());  // a partial temporary is useless; the old checkpoint is untouched
    throw;
  }
  return tmp;
}

void commit_checkpoint(const std::string& path) {
  const std::string tmp = path + ".tmp";
  // rename(2) replaces `path` atomically; syncing the directory makes the new name durable.
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("checkpoint: cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
  fsync_path(directory_of(path), true);
}

void write_checkpoint(const std::string& path, const Checkpoint& c) {
  stage_checkpoint(path, c);
  commit_checkpoint(path);
}

Checkpoint read_checkpoint(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw InputError(path, "", 0,
                     "cannot read checkpoint: " + std::string(errno == ENOENT ? "the file does not exist (nothing to "
                                                                                "restart from)"
                                                                              : std::strerror(errno)));
  if (!h5::File::is_hdf5(path))
    throw InputError(path, "", 0, "cannot read checkpoint: not an HDF5 file, or damaged");
  Checkpoint c;
  c.source = path;
  try {
    h5::File f = h5::File::open(path, h5::Access::read_only);
    if (!f.has_attr("/", "format") || f.attr_string("/", "format") != kFormat)
      throw InputError(path, "", 0, "not a spinlat checkpoint (no format = \"spinlat-checkpoint\" attribute)");
    const std::int64_t version = f.attr_int("/", "format_version");
    if (version > kFormatVersion)
      throw InputError(path, "", 0,
                       "checkpoint format " + std::to_string(version) + " was written by a newer spinlat (this one reads " +
                           std::to_string(kFormatVersion) + ")");
    if (version < kFormatVersion)
      throw InputError(path, "", 0,
                       "the checkpoint format changed (this file has format " + std::to_string(version) +
                           ", this spinlat reads format " + std::to_string(kFormatVersion) +
                           ": one encoding of saved states); it cannot be continued: finish the run with the "
                           "spinlat version that started it, or remove the checkpoint and start over");
    if (!f.has_attr("/", "checksum"))
      throw InputError(path, "", 0, "checkpoint is incomplete (no checksum): the write was interrupted");
    for (const auto& name : f.datasets_below("/blobs")) c.blobs[name] = f.read_bytes(h5::join_path("/blobs", name));
    for (const auto& name : f.datasets_below("/reals")) c.reals[name] = f.read_doubles(h5::join_path("/reals", name));
    for (const auto& name : f.datasets_below("/integers"))
      c.integers[name] = f.read_ints(h5::join_path("/integers", name));
    if (f.attr_uint("/", "checksum") != checksum(c))
      throw InputError(path, "", 0, "checkpoint is corrupt (checksum mismatch)");
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(path, "", 0, std::string("cannot read checkpoint (damaged?): ") + e.what());
  }
  return c;
}

// ---- System ----------------------------------------------------------------------------------

namespace {
std::vector<double> flatten(const std::vector<Vec3>& v) {
  std::vector<double> out(3 * v.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    for (int k = 0; k < 3; ++k) out[3 * i + k] = v[i][k];
  return out;
}
}  // namespace

void store_system(Checkpoint& c, const System& s, const std::string& prefix) {
  const auto key = [&](const char* name) { return prefix + "/" + name; };
  c.set_reals(key("position"), flatten(s.position));
  c.set_reals(key("velocity"), flatten(s.velocity));
  c.set_reals(key("spin"), flatten(s.spin));
  c.set_reals(key("moment"), s.moment);
  c.set_integers(key("species"), std::vector<std::int64_t>(s.species.begin(), s.species.end()));
  c.set_integers(key("sublattice"), std::vector<std::int64_t>(s.sublattice.begin(), s.sublattice.end()));
  std::vector<double> h(9);
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) h[3 * r + k] = s.cell.h(r, k);
  c.set_reals(key("cell"), h);
  c.set_integers(key("periodic"), {s.cell.periodic[0], s.cell.periodic[1], s.cell.periodic[2]});
  std::string names;
  for (std::size_t k = 0; k < s.species_name.size(); ++k) {
    if (s.species_name[k].find('\n') != std::string::npos)
      throw std::invalid_argument("store_system: species name contains a newline");
    if (k > 0) names += '\n';
    names += s.species_name[k];
  }
  c.set_blob(key("species_name"), names);
  c.set_reals(key("species_mass"), s.species_mass);
}

System restore_system(const Checkpoint& c, const std::string& prefix) {
  const auto key = [&](const char* name) { return prefix + "/" + name; };
  const auto bad = [&](const std::string& what) { throw InputError(label(c), prefix, 0, "stored system: " + what); };
  System s;
  s.moment = c.real_array(key("moment"));
  const std::size_t n = s.moment.size();
  auto vectors = [&](const char* name) {
    const auto& v = c.real_array(key(name));
    if (v.size() != 3 * n) bad(std::string(name) + " has " + std::to_string(v.size()) + " numbers, expected " + std::to_string(3 * n));
    std::vector<Vec3> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = Vec3(v[3 * i], v[3 * i + 1], v[3 * i + 2]);
    return out;
  };
  auto ints = [&](const char* name, std::size_t expect) {
    const auto& v = c.integer_array(key(name));
    if (v.size() != expect) bad(std::string(name) + " has " + std::to_string(v.size()) + " entries, expected " + std::to_string(expect));
    return std::vector<int>(v.begin(), v.end());
  };
  s.position = vectors("position");
  s.velocity = vectors("velocity");
  s.spin = vectors("spin");
  s.species = ints("species", n);
  s.sublattice = ints("sublattice", n);
  const auto& h = c.real_array(key("cell"));
  if (h.size() != 9) bad("cell has " + std::to_string(h.size()) + " numbers, expected 9");
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) s.cell.h(r, k) = h[3 * r + k];
  const auto periodic = ints("periodic", 3);
  for (int k = 0; k < 3; ++k) s.cell.periodic[k] = periodic[k] != 0;
  s.species_mass = c.real_array(key("species_mass"));
  const std::string& names = c.blob(key("species_name"));
  if (!s.species_mass.empty()) {
    std::size_t start = 0;
    while (true) {
      const auto end = names.find('\n', start);
      s.species_name.push_back(names.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  try {
    s.check_consistent();
  } catch (const std::logic_error& e) {
    bad(e.what());
  }
  return s;
}

}  // namespace spinlat
