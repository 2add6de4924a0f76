// RAII wrapper over the HDF5 C API; see include/spinlat/io/hdf5.hpp.
#include "spinlat/io/hdf5.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>

#include "spinlat/core/error.hpp"
#include "spinlat/version.hpp"

static_assert(sizeof(hid_t) == sizeof(std::int64_t), "hid_t is 64 bits since HDF5 1.10");

namespace spinlat {
namespace h5 {
namespace {

// Switches HDF5's automatic error printing off for the lifetime of one call and restores
// whatever was set before, so that failures become exceptions without noise on stderr and
// the library's setting is left as found.
class Quiet {
 public:
  Quiet() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~Quiet() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  Quiet(const Quiet&) = delete;
  Quiet& operator=(const Quiet&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

herr_t collect_deepest(unsigned, const H5E_error2_t* err, void* data) {
  // Walking downward, the last entry is the innermost (most specific) cause.
  if (err != nullptr && err->desc != nullptr && err->desc[0] != '\0')
    *static_cast<std::string*>(data) = err->desc;
  return 0;
}

/// HDF5's own description of the last failure, and clears the error stack.
std::string hdf5_message() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_deepest, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

[[noreturn]] void fail_at(const std::string& file, const std::string& obj, const std::string& action,
                          const std::string& detail = "") {
  std::string msg = "HDF5 file '" + file + "'";
  if (!obj.empty()) msg += ", object '" + obj + "'";
  msg += ": cannot " + action;
  const std::string h5 = hdf5_message();
  if (!detail.empty()) msg += ": " + detail;
  else if (!h5.empty()) msg += " (" + h5 + ")";
  throw Error(msg);
}

// Checked calls: every identifier is owned at once and every status is tested.
struct Ctx {
  const std::string& file;
  const std::string& obj;
  Handle take(hid_t id, const std::string& action) const {
    if (id < 0) fail_at(file, obj, action);
    return Handle(id);
  }
  void check(herr_t status, const std::string& action) const {
    if (status < 0) fail_at(file, obj, action);
  }
  [[noreturn]] void fail(const std::string& action, const std::string& detail) const {
    fail_at(file, obj, action, detail);
  }
};

Handle vlen_string_type(const Ctx& c) {
  Handle t = c.take(H5Tcopy(H5T_C_S1), "create a string type");
  c.check(H5Tset_size(t.get(), H5T_VARIABLE), "create a string type");
  c.check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "create a string type");
  return t;
}

Handle make_space(const Ctx& c, const Shape& shape, bool scalar) {
  if (scalar) return c.take(H5Screate(H5S_SCALAR), "create a dataspace");
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return c.take(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                "create a dataspace");
}

std::uint64_t product(const Shape& s, std::size_t from = 0) {
  std::uint64_t n = 1;
  for (std::size_t k = from; k < s.size(); ++k) n *= s[k];
  return n;
}

Shape space_shape(const Ctx& c, hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) c.check(-1, "read the dataspace");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) c.check(H5Sget_simple_extent_dims(space, dims.data(), nullptr), "read the dataspace");
  return Shape(dims.begin(), dims.end());
}

std::size_t space_points(const Ctx& c, hid_t space) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) c.check(-1, "read the dataspace");
  return static_cast<std::size_t>(n);
}

void require_numeric(const Ctx& c, hid_t type, const std::string& what) {
  const H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) c.fail("read " + what, "it is not numeric");
}

/// Reads `n` strings of stored type `ftype` with `read(mem_type, buffer)`: variable-length
/// strings are copied out and their memory reclaimed; fixed-length ones lose trailing padding.
std::vector<std::string> read_string_values(const Ctx& c, hid_t ftype, hid_t space, std::size_t n,
                                            const std::function<herr_t(hid_t, void*)>& read) {
  if (H5Tget_class(ftype) != H5T_STRING) c.fail("read strings", "the data are not strings");
  std::vector<std::string> out(n);
  const htri_t variable = H5Tis_variable_str(ftype);
  if (variable < 0) c.check(-1, "inspect the string type");
  if (variable) {
    Handle mem = vlen_string_type(c);
    const H5T_cset_t cset = H5Tget_cset(ftype);
    if (cset >= 0) H5Tset_cset(mem.get(), cset);
    std::vector<char*> buf(std::max<std::size_t>(n, 1), nullptr);
    c.check(read(mem.get(), buf.data()), "read strings");
    for (std::size_t k = 0; k < n; ++k)
      if (buf[k] != nullptr) out[k] = buf[k];
    c.check(H5Dvlen_reclaim(mem.get(), space, H5P_DEFAULT, buf.data()), "free strings");
  } else {
    const std::size_t size = H5Tget_size(ftype);
    if (size == 0) c.check(-1, "inspect the string type");
    Handle mem = c.take(H5Tcopy(H5T_C_S1), "create a string type");
    c.check(H5Tset_size(mem.get(), size), "create a string type");
    c.check(H5Tset_strpad(mem.get(), H5T_STR_NULLPAD), "create a string type");
    std::vector<char> buf(std::max<std::size_t>(n * size, 1), '\0');
    c.check(read(mem.get(), buf.data()), "read strings");
    const bool spacepad = H5Tget_strpad(ftype) == H5T_STR_SPACEPAD;
    for (std::size_t k = 0; k < n; ++k) {
      std::string s(buf.data() + k * size, size);
      const auto end = s.find('\0');
      if (end != std::string::npos) s.resize(end);
      if (spacepad)
        while (!s.empty() && s.back() == ' ') s.pop_back();
      out[k] = std::move(s);
    }
  }
  return out;
}

hid_t file_type_of(Type t) { return t == Type::float64 ? H5T_IEEE_F64LE : H5T_STD_I64LE; }

#if H5_VERSION_GE(1, 12, 0)
herr_t collect_name(hid_t, const char* name, const H5L_info2_t*, void* data) {
#else
herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
#endif
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

herr_t collect_attr_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

// ---- paths ------------------------------------------------------------------------------

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string join_path(const std::string& group, const std::string& name) {
  std::string g = group;
  while (!g.empty() && g.back() == '/') g.pop_back();
  std::string n = name;
  while (!n.empty() && n.front() == '/') n.erase(n.begin());
  return g + "/" + n;
}

// ---- Handle -----------------------------------------------------------------------------

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = -1;
  }
  return *this;
}

bool Handle::reset() {
  if (id_ < 0) return true;
  Quiet quiet;
  herr_t status = 0;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: status = H5Fclose(id_); break;
    case H5I_GROUP: status = H5Gclose(id_); break;
    case H5I_DATASET: status = H5Dclose(id_); break;
    case H5I_DATASPACE: status = H5Sclose(id_); break;
    case H5I_DATATYPE: status = H5Tclose(id_); break;
    case H5I_ATTR: status = H5Aclose(id_); break;
    case H5I_GENPROP_LST: status = H5Pclose(id_); break;
    default: status = H5Idec_ref(id_) < 0 ? -1 : 0; break;
  }
  id_ = -1;
  if (status < 0) H5Eclear2(H5E_DEFAULT);
  return status >= 0;
}

// ---- File: opening and closing -----------------------------------------------------------

File File::create(const std::string& path) {
  Quiet quiet;
  const std::string root = "/";
  const Ctx c{path, root};
  Handle f = c.take(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create the file");
  return File(std::move(f), path, true);
}

bool File::is_hdf5(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  Quiet quiet;
  const htri_t r = H5Fis_hdf5(path.c_str());
  if (r < 0) H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

File File::open(const std::string& path, Access access) {
  const std::string none;
  const Ctx c{path, none};
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) c.fail("open it", std::strerror(errno));
  if (!S_ISREG(st.st_mode)) c.fail("open it", "not a regular file");
  if (!is_hdf5(path)) c.fail("open it", "not an HDF5 file (or damaged)");
  Quiet quiet;
  const unsigned flags = access == Access::read_write ? H5F_ACC_RDWR : H5F_ACC_RDONLY;
  Handle f = c.take(H5Fopen(path.c_str(), flags, H5P_DEFAULT), "open it");
  return File(std::move(f), path, access == Access::read_write);
}

File& File::operator=(File&& o) noexcept = default;
File::~File() = default;

void File::flush() {
  if (!is_open()) return;
  Quiet quiet;
  const std::string root = "/";
  Ctx{path_, root}.check(H5Fflush(id_.get(), H5F_SCOPE_GLOBAL), "flush");
}

void File::close() {
  if (!is_open()) return;
  if (!id_.reset()) throw Error("HDF5 file '" + path_ + "': cannot close it (data may be incomplete)");
}

[[noreturn]] void File::fail(const std::string& obj, const std::string& action) const {
  fail_at(path_, obj, action);
}

void File::require_writable(const std::string& obj) const {
  const Ctx c{path_, obj};
  if (!is_open()) c.fail("write", "the file is not open");
  if (!writable_) c.fail("write", "the file is open read-only");
}

// ---- structure -------------------------------------------------------------------------

bool File::exists(const std::string& obj) const {
  const Ctx c{path_, obj};
  if (!is_open()) c.fail("look up", "the file is not open");
  Quiet quiet;
  std::string cur;
  for (const auto& part : split_path(obj)) {
    cur += "/" + part;
    const htri_t e = H5Lexists(id_.get(), cur.c_str(), H5P_DEFAULT);
    if (e < 0) {
      // A component exists but is not a group (e.g. "/a/b" where /a is a dataset).
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (e == 0) return false;
  }
  return true;
}

Handle File::open_object(const std::string& obj) const {
  const Ctx c{path_, obj};
  if (!is_open()) c.fail("open", "the file is not open");
  Quiet quiet;
  const std::string p = obj.empty() ? "/" : obj;
  return c.take(H5Oopen(id_.get(), p.c_str(), H5P_DEFAULT), "open it");
}

Handle File::open_dataset(const std::string& dset) const {
  const Ctx c{path_, dset};
  if (!is_open()) c.fail("open", "the file is not open");
  Quiet quiet;
  return c.take(H5Dopen2(id_.get(), dset.c_str(), H5P_DEFAULT), "open the dataset");
}

bool File::is_group(const std::string& obj) const {
  if (!exists(obj)) return false;
  Handle o = open_object(obj);
  return H5Iget_type(o.get()) == H5I_GROUP;
}

bool File::is_dataset(const std::string& obj) const {
  if (!exists(obj)) return false;
  Handle o = open_object(obj);
  return H5Iget_type(o.get()) == H5I_DATASET;
}

void File::create_group(const std::string& group) {
  require_writable(group);
  const Ctx c{path_, group};
  Quiet quiet;
  std::string cur;
  for (const auto& part : split_path(group)) {
    cur += "/" + part;
    const htri_t e = H5Lexists(id_.get(), cur.c_str(), H5P_DEFAULT);
    if (e < 0) c.check(-1, "look up '" + cur + "'");
    if (e > 0) {
      Handle o = c.take(H5Oopen(id_.get(), cur.c_str(), H5P_DEFAULT), "open '" + cur + "'");
      if (H5Iget_type(o.get()) != H5I_GROUP) c.fail("create the group", "'" + cur + "' exists and is not a group");
      continue;
    }
    c.take(H5Gcreate2(id_.get(), cur.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create group '" + cur + "'");
  }
}

void File::ensure_parent(const std::string& obj) {
  auto parts = split_path(obj);
  if (parts.size() <= 1) return;
  parts.pop_back();
  std::string parent;
  for (const auto& p : parts) parent += "/" + p;
  create_group(parent);
}

std::vector<std::string> File::children(const std::string& group) const {
  const Ctx c{path_, group};
  Handle g = open_object(group);
  if (H5Iget_type(g.get()) != H5I_GROUP) c.fail("list members", "not a group");
  Quiet quiet;
  std::vector<std::string> names;
  hsize_t idx = 0;
#if H5_VERSION_GE(1, 12, 0)
  c.check(H5Literate2(g.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names), "list members");
#else
  c.check(H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names), "list members");
#endif
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> File::datasets_below(const std::string& group) const {
  std::vector<std::string> out;
  std::function<void(const std::string&, const std::string&)> walk = [&](const std::string& abs,
                                                                         const std::string& rel) {
    for (const auto& name : children(abs)) {
      const std::string a = join_path(abs, name);
      const std::string r = rel.empty() ? name : rel + "/" + name;
      Handle o = open_object(a);
      const H5I_type_t t = H5Iget_type(o.get());
      if (t == H5I_GROUP) walk(a, r);
      else if (t == H5I_DATASET) out.push_back(r);
    }
  };
  walk(group, "");
  std::sort(out.begin(), out.end());
  return out;
}

void File::remove(const std::string& obj) {
  require_writable(obj);
  Quiet quiet;
  Ctx{path_, obj}.check(H5Ldelete(id_.get(), obj.c_str(), H5P_DEFAULT), "remove it");
}

void File::hard_link(const std::string& target, const std::string& link) {
  require_writable(link);
  ensure_parent(link);
  Quiet quiet;
  Ctx{path_, link}.check(H5Lcreate_hard(id_.get(), target.c_str(), id_.get(), link.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                         "link it to '" + target + "'");
}

// ---- attributes --------------------------------------------------------------------------

void File::write_attr_raw(const std::string& obj, const std::string& name, std::int64_t file_type,
                          std::int64_t mem_type, const Shape& shape, const void* data) {
  require_writable(obj);
  const std::string where = obj + "@" + name;
  const Ctx c{path_, where};
  Handle o = open_object(obj);
  Quiet quiet;
  const htri_t e = H5Aexists(o.get(), name.c_str());
  c.check(e, "look up the attribute");
  if (e > 0) c.check(H5Adelete(o.get(), name.c_str()), "replace the attribute");
  const bool scalar = shape.empty();
  Handle space = make_space(c, shape, scalar);
  Handle a = c.take(H5Acreate2(o.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                    "create the attribute");
  if (scalar || product(shape) > 0) c.check(H5Awrite(a.get(), mem_type, data), "write the attribute");
}

void File::set_attr(const std::string& obj, const std::string& name, const std::string& value) {
  const Ctx c{path_, obj};
  Quiet quiet;
  Handle t = vlen_string_type(c);
  const char* p = value.c_str();
  write_attr_raw(obj, name, t.get(), t.get(), {}, &p);
}

void File::set_attr(const std::string& obj, const std::string& name, double value) {
  write_attr_raw(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &value);
}

void File::set_attr(const std::string& obj, const std::string& name, std::int64_t value) {
  write_attr_raw(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &value);
}

void File::set_attr(const std::string& obj, const std::string& name, std::uint64_t value) {
  write_attr_raw(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, {}, &value);
}

void File::set_attr(const std::string& obj, const std::string& name, const std::vector<double>& v) {
  const double dummy = 0.0;
  write_attr_raw(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {v.size()}, v.empty() ? &dummy : v.data());
}

void File::set_attr(const std::string& obj, const std::string& name, const std::vector<std::int64_t>& v) {
  const std::int64_t dummy = 0;
  write_attr_raw(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, {v.size()}, v.empty() ? &dummy : v.data());
}

void File::set_attr(const std::string& obj, const std::string& name, const std::vector<std::string>& v) {
  const Ctx c{path_, obj};
  Quiet quiet;
  Handle t = vlen_string_type(c);
  std::vector<const char*> ptrs;
  for (const auto& s : v) ptrs.push_back(s.c_str());
  const char* dummy = "";
  write_attr_raw(obj, name, t.get(), t.get(), {v.size()}, v.empty() ? &dummy : ptrs.data());
}

bool File::has_attr(const std::string& obj, const std::string& name) const {
  if (!exists(obj)) return false;
  Handle o = open_object(obj);
  Quiet quiet;
  const htri_t e = H5Aexists(o.get(), name.c_str());
  Ctx{path_, obj}.check(e, "look up attribute '" + name + "'");
  return e > 0;
}

std::vector<std::string> File::attr_names(const std::string& obj) const {
  Handle o = open_object(obj);
  Quiet quiet;
  std::vector<std::string> names;
  hsize_t idx = 0;
  Ctx{path_, obj}.check(H5Aiterate2(o.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr_name, &names),
                        "list attributes");
  std::sort(names.begin(), names.end());
  return names;
}

std::size_t File::attr_size(const std::string& obj, const std::string& name) const {
  const std::string where = obj + "@" + name;
  const Ctx c{path_, where};
  Handle o = open_object(obj);
  Quiet quiet;
  Handle a = c.take(H5Aopen(o.get(), name.c_str(), H5P_DEFAULT), "open the attribute");
  Handle space = c.take(H5Aget_space(a.get()), "read the attribute's dataspace");
  return space_points(c, space.get());
}

void File::read_attr_numeric(const std::string& obj, const std::string& name, std::int64_t mem_type,
                             void* out, std::size_t expect) const {
  const std::string where = obj + "@" + name;
  const Ctx c{path_, where};
  Handle o = open_object(obj);
  Quiet quiet;
  Handle a = c.take(H5Aopen(o.get(), name.c_str(), H5P_DEFAULT), "open the attribute");
  Handle type = c.take(H5Aget_type(a.get()), "read the attribute's type");
  require_numeric(c, type.get(), "the attribute");
  Handle space = c.take(H5Aget_space(a.get()), "read the attribute's dataspace");
  const std::size_t n = space_points(c, space.get());
  if (n != expect)
    c.fail("read the attribute", "it has " + std::to_string(n) + " values, expected " + std::to_string(expect));
  if (n > 0) c.check(H5Aread(a.get(), mem_type, out), "read the attribute");
}

std::string File::attr_string(const std::string& obj, const std::string& name) const {
  const auto v = attr_strings(obj, name);
  if (v.size() != 1)
    Ctx{path_, obj + "@" + name}.fail("read the attribute", "it holds " + std::to_string(v.size()) + " strings, expected 1");
  return v[0];
}

std::vector<std::string> File::attr_strings(const std::string& obj, const std::string& name) const {
  const std::string where = obj + "@" + name;
  const Ctx c{path_, where};
  Handle o = open_object(obj);
  Quiet quiet;
  Handle a = c.take(H5Aopen(o.get(), name.c_str(), H5P_DEFAULT), "open the attribute");
  Handle type = c.take(H5Aget_type(a.get()), "read the attribute's type");
  Handle space = c.take(H5Aget_space(a.get()), "read the attribute's dataspace");
  const std::size_t n = space_points(c, space.get());
  const hid_t aid = a.get();
  return read_string_values(c, type.get(), space.get(), n,
                            [aid](hid_t mem, void* buf) { return H5Aread(aid, mem, buf); });
}

double File::attr_double(const std::string& obj, const std::string& name) const {
  double v = 0.0;
  read_attr_numeric(obj, name, H5T_NATIVE_DOUBLE, &v, 1);
  return v;
}

std::int64_t File::attr_int(const std::string& obj, const std::string& name) const {
  std::int64_t v = 0;
  read_attr_numeric(obj, name, H5T_NATIVE_INT64, &v, 1);
  return v;
}

std::uint64_t File::attr_uint(const std::string& obj, const std::string& name) const {
  std::uint64_t v = 0;
  read_attr_numeric(obj, name, H5T_NATIVE_UINT64, &v, 1);
  return v;
}

std::vector<double> File::attr_doubles(const std::string& obj, const std::string& name) const {
  std::vector<double> v(attr_size(obj, name));
  read_attr_numeric(obj, name, H5T_NATIVE_DOUBLE, v.data(), v.size());
  return v;
}

std::vector<std::int64_t> File::attr_ints(const std::string& obj, const std::string& name) const {
  std::vector<std::int64_t> v(attr_size(obj, name));
  read_attr_numeric(obj, name, H5T_NATIVE_INT64, v.data(), v.size());
  return v;
}

// ---- whole datasets ----------------------------------------------------------------------

void File::write_numeric(const std::string& dset, const void* data, std::int64_t mem_type,
                         std::int64_t file_type, const Shape& shape) {
  // `shape` {} with data == nullptr is never used; scalars come through write_scalar below
  // with the marker shape {UINT64_MAX}.
  require_writable(dset);
  const Ctx c{path_, dset};
  const bool scalar = shape.size() == 1 && shape[0] == std::numeric_limits<std::uint64_t>::max();
  if (exists(dset)) remove(dset);
  ensure_parent(dset);
  Quiet quiet;
  Handle space = make_space(c, shape, scalar);
  Handle d = c.take(H5Dcreate2(id_.get(), dset.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    "create the dataset");
  if (scalar || product(shape) > 0)
    c.check(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write the dataset");
}

namespace {
Shape checked_shape(const std::string& file, const std::string& dset, std::size_t n, const Shape& shape) {
  if (shape.empty()) return {n};
  if (product(shape) != n)
    fail_at(file, dset, "write the dataset",
            "shape holds " + std::to_string(product(shape)) + " values but " + std::to_string(n) + " were given");
  return shape;
}
const Shape kScalar{std::numeric_limits<std::uint64_t>::max()};
}  // namespace

void File::write(const std::string& dset, const std::vector<double>& data, const Shape& shape) {
  write_numeric(dset, data.data(), H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, checked_shape(path_, dset, data.size(), shape));
}

void File::write(const std::string& dset, const std::vector<std::int64_t>& data, const Shape& shape) {
  write_numeric(dset, data.data(), H5T_NATIVE_INT64, H5T_STD_I64LE, checked_shape(path_, dset, data.size(), shape));
}

void File::write_scalar(const std::string& dset, double value) {
  write_numeric(dset, &value, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, kScalar);
}

void File::write_scalar(const std::string& dset, std::int64_t value) {
  write_numeric(dset, &value, H5T_NATIVE_INT64, H5T_STD_I64LE, kScalar);
}

void File::write_string(const std::string& dset, const std::string& text) {
  const Ctx c{path_, dset};
  Quiet quiet;
  Handle t = vlen_string_type(c);
  const char* p = text.c_str();
  write_numeric(dset, &p, t.get(), t.get(), kScalar);
}

void File::write_strings(const std::string& dset, const std::vector<std::string>& texts) {
  const Ctx c{path_, dset};
  Quiet quiet;
  Handle t = vlen_string_type(c);
  std::vector<const char*> ptrs;
  for (const auto& s : texts) ptrs.push_back(s.c_str());
  write_numeric(dset, ptrs.data(), t.get(), t.get(), {texts.size()});
}

void File::write_bytes(const std::string& dset, const std::string& bytes) {
  write_numeric(dset, bytes.data(), H5T_NATIVE_UCHAR, H5T_STD_U8LE, {bytes.size()});
}

void File::create_filled(const std::string& dset, const Shape& shape, double fill) {
  write(dset, std::vector<double>(product(shape), fill), shape);
}

void File::create_filled(const std::string& dset, const Shape& shape, std::int64_t fill) {
  write(dset, std::vector<std::int64_t>(product(shape), fill), shape);
}

void File::write_element_raw(const std::string& dset, const Shape& index, const void* value,
                             std::int64_t mem_type) {
  require_writable(dset);
  const Ctx c{path_, dset};
  Handle d = open_dataset(dset);
  Quiet quiet;
  Handle fspace = c.take(H5Dget_space(d.get()), "read the dataspace");
  const Shape dims = space_shape(c, fspace.get());
  if (dims.size() != index.size())
    c.fail("write an element", "index has " + std::to_string(index.size()) + " axes, the dataset " +
                                    std::to_string(dims.size()));
  for (std::size_t k = 0; k < dims.size(); ++k)
    if (index[k] >= dims[k])
      c.fail("write an element", "index " + std::to_string(index[k]) + " out of range on axis " +
                                      std::to_string(k) + " (size " + std::to_string(dims[k]) + ")");
  std::vector<hsize_t> start(index.begin(), index.end()), count(index.size(), 1);
  if (!dims.empty())
    c.check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
            "select an element");
  const hsize_t one = 1;
  Handle mspace = c.take(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &one, nullptr), "create a dataspace");
  c.check(H5Dwrite(d.get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, value), "write an element");
}

void File::write_element(const std::string& dset, const Shape& index, double value) {
  write_element_raw(dset, index, &value, H5T_NATIVE_DOUBLE);
}

void File::write_element(const std::string& dset, const Shape& index, std::int64_t value) {
  write_element_raw(dset, index, &value, H5T_NATIVE_INT64);
}

// ---- appendable datasets -------------------------------------------------------------------

void File::create_appendable(const std::string& dset, Type type, const Shape& frame_shape,
                             std::uint64_t chunk_frames) {
  require_writable(dset);
  const Ctx c{path_, dset};
  if (exists(dset)) remove(dset);
  ensure_parent(dset);
  Quiet quiet;
  const std::size_t rank = frame_shape.size() + 1;
  std::vector<hsize_t> dims(rank, 0), maxdims(rank, H5S_UNLIMITED), chunk(rank, 1);
  for (std::size_t k = 1; k < rank; ++k) {
    dims[k] = frame_shape[k - 1];
    // A zero-length axis (no atoms) cannot hold a chunk of 1 unless it may grow.
    maxdims[k] = dims[k] == 0 ? H5S_UNLIMITED : dims[k];
    chunk[k] = std::max<hsize_t>(1, dims[k]);
  }
  // About 64 KiB per chunk: small time series are not written one 8-byte chunk at a time,
  // and a big frame is one chunk (HDF5 allows chunks up to 4 GiB).
  const std::uint64_t frame_bytes = 8 * std::max<std::uint64_t>(1, product(frame_shape));
  chunk[0] = chunk_frames > 0 ? chunk_frames : std::max<std::uint64_t>(1, (64u << 10) / frame_bytes);
  Handle space = c.take(H5Screate_simple(static_cast<int>(rank), dims.data(), maxdims.data()), "create a dataspace");
  Handle dcpl = c.take(H5Pcreate(H5P_DATASET_CREATE), "create a property list");
  c.check(H5Pset_chunk(dcpl.get(), static_cast<int>(rank), chunk.data()), "set the chunk size");
  if (type == Type::float64) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    c.check(H5Pset_fill_value(dcpl.get(), H5T_NATIVE_DOUBLE, &nan), "set the fill value");
  }
  c.take(H5Dcreate2(id_.get(), dset.c_str(), file_type_of(type), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
         "create the dataset");
}

void File::append_raw(const std::string& dset, const void* data, std::size_t count, std::int64_t mem_type) {
  require_writable(dset);
  const Ctx c{path_, dset};
  Handle d = open_dataset(dset);
  Quiet quiet;
  Shape dims;
  {
    Handle space = c.take(H5Dget_space(d.get()), "read the dataspace");
    dims = space_shape(c, space.get());
  }
  if (dims.empty()) c.fail("append", "the dataset is scalar");
  const std::uint64_t frame = product(dims, 1);
  if (frame == 0 ? count != 0 : count % frame != 0)
    c.fail("append", std::to_string(count) + " values are not whole frames of " + std::to_string(frame));
  if (count == 0) return;
  const std::uint64_t frames = count / frame;
  std::vector<hsize_t> newdims(dims.begin(), dims.end());
  const hsize_t old = newdims[0];
  newdims[0] += frames;
  c.check(H5Dset_extent(d.get(), newdims.data()), "extend the dataset");
  Handle fspace = c.take(H5Dget_space(d.get()), "read the dataspace");
  std::vector<hsize_t> start(dims.size(), 0), cnt(newdims);
  start[0] = old;
  cnt[0] = frames;
  c.check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr),
          "select the new frames");
  const hsize_t n = count;
  Handle mspace = c.take(H5Screate_simple(1, &n, nullptr), "create a dataspace");
  c.check(H5Dwrite(d.get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, data), "append");
}

void File::append(const std::string& dset, const std::vector<double>& data) {
  append_raw(dset, data.data(), data.size(), H5T_NATIVE_DOUBLE);
}
void File::append(const std::string& dset, const std::vector<std::int64_t>& data) {
  append_raw(dset, data.data(), data.size(), H5T_NATIVE_INT64);
}
void File::append(const std::string& dset, const double* data, std::size_t count) {
  append_raw(dset, data, count, H5T_NATIVE_DOUBLE);
}
void File::append(const std::string& dset, const std::int64_t* data, std::size_t count) {
  append_raw(dset, data, count, H5T_NATIVE_INT64);
}

void File::resize(const std::string& dset, std::uint64_t frames) {
  require_writable(dset);
  const Ctx c{path_, dset};
  Handle d = open_dataset(dset);
  Quiet quiet;
  Handle space = c.take(H5Dget_space(d.get()), "read the dataspace");
  Shape dims = space_shape(c, space.get());
  if (dims.empty()) c.fail("resize", "the dataset is scalar");
  std::vector<hsize_t> newdims(dims.begin(), dims.end());
  newdims[0] = frames;
  c.check(H5Dset_extent(d.get(), newdims.data()), "resize");
}

// ---- reading ---------------------------------------------------------------------------------

Shape File::shape(const std::string& dset) const {
  const Ctx c{path_, dset};
  Handle d = open_dataset(dset);
  Quiet quiet;
  Handle space = c.take(H5Dget_space(d.get()), "read the dataspace");
  return space_shape(c, space.get());
}

namespace {
template <class T>
std::vector<T> read_all(const Ctx& c, hid_t d, hid_t mem_type) {
  Handle type = c.take(H5Dget_type(d), "read the type");
  require_numeric(c, type.get(), "the dataset");
  Handle space = c.take(H5Dget_space(d), "read the dataspace");
  std::vector<T> out(space_points(c, space.get()));
  if (!out.empty()) c.check(H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read the dataset");
  return out;
}
}  // namespace

std::vector<double> File::read_doubles(const std::string& dset) const {
  Handle d = open_dataset(dset);
  Quiet quiet;
  return read_all<double>(Ctx{path_, dset}, d.get(), H5T_NATIVE_DOUBLE);
}

std::vector<std::int64_t> File::read_ints(const std::string& dset) const {
  Handle d = open_dataset(dset);
  Quiet quiet;
  return read_all<std::int64_t>(Ctx{path_, dset}, d.get(), H5T_NATIVE_INT64);
}

std::string File::read_bytes(const std::string& dset) const {
  const Ctx c{path_, dset};
  Handle d = open_dataset(dset);
  Quiet quiet;
  Handle type = c.take(H5Dget_type(d.get()), "read the type");
  require_numeric(c, type.get(), "the dataset");
  Handle space = c.take(H5Dget_space(d.get()), "read the dataspace");
  std::string out(space_points(c, space.get()), '\0');
  if (!out.empty())
    c.check(H5Dread(d.get(), H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, &out[0]), "read the dataset");
  return out;
}

std::vector<std::string> File::read_strings(const std::string& dset) const {
  const Ctx c{path_, dset};
  Handle d = open_dataset(dset);
  Quiet quiet;
  Handle type = c.take(H5Dget_type(d.get()), "read the type");
  Handle space = c.take(H5Dget_space(d.get()), "read the dataspace");
  const std::size_t n = space_points(c, space.get());
  const hid_t did = d.get();
  return read_string_values(c, type.get(), space.get(), n, [did](hid_t mem, void* buf) {
    return H5Dread(did, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  });
}

std::string File::read_string(const std::string& dset) const {
  const auto v = read_strings(dset);
  if (v.size() != 1)
    Ctx{path_, dset}.fail("read a string", "the dataset holds " + std::to_string(v.size()) + " strings, expected 1");
  return v[0];
}

void File::read_rows_raw(const std::string& dset, std::uint64_t first, std::uint64_t count,
                         std::int64_t mem_type, void* out) const {
  const Ctx c{path_, dset};
  Handle d = open_dataset(dset);
  Quiet quiet;
  Handle fspace = c.take(H5Dget_space(d.get()), "read the dataspace");
  const Shape dims = space_shape(c, fspace.get());
  if (dims.empty()) c.fail("read rows", "the dataset is scalar");
  if (first + count > dims[0])
    c.fail("read rows", "rows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                            ") exceed its " + std::to_string(dims[0]));
  if (count == 0 || product(dims, 1) == 0) return;
  std::vector<hsize_t> start(dims.size(), 0), cnt(dims.begin(), dims.end());
  start[0] = first;
  cnt[0] = count;
  c.check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr),
          "select rows");
  const hsize_t n = count * product(dims, 1);
  Handle mspace = c.take(H5Screate_simple(1, &n, nullptr), "create a dataspace");
  c.check(H5Dread(d.get(), mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, out), "read rows");
}

std::vector<double> File::read_rows(const std::string& dset, std::uint64_t first, std::uint64_t count) const {
  const Shape dims = shape(dset);
  std::vector<double> out(dims.empty() ? 0 : count * product(dims, 1));
  read_rows_raw(dset, first, count, H5T_NATIVE_DOUBLE, out.data());
  return out;
}

std::vector<std::int64_t> File::read_int_rows(const std::string& dset, std::uint64_t first,
                                              std::uint64_t count) const {
  const Shape dims = shape(dset);
  std::vector<std::int64_t> out(dims.empty() ? 0 : count * product(dims, 1));
  read_rows_raw(dset, first, count, H5T_NATIVE_INT64, out.data());
  return out;
}

}  // namespace h5

// ---- run-level conventions ------------------------------------------------------------------

std::string units_description() {
  return "LAMMPS metal units plus magnetism: length=angstrom energy=eV time=ps mass=amu "
         "temperature=K moment=bohr_magneton field=T force=eV/angstrom "
         "magnetic_force=eV/bohr_magneton velocity=angstrom/ps";
}

std::string iso_time_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_root_attributes(h5::File& file, const RunInfo& info) {
  file.set_attr("/", "spinlat_version", std::string(kVersion));
  file.set_attr("/", "input", info.input);
  file.set_attr("/", "units", units_description());
  file.set_attr("/", "seed", info.seed);
  file.set_attr("/", "created", iso_time_now());
  if (!info.title.empty()) file.set_attr("/", "title", info.title);
  file.flush();
}

void check_writable(const std::string& output, std::uint64_t min_free_bytes) {
  auto error = [&](const std::string& msg) { throw InputError(output, "", 0, msg); };
  if (output.empty()) error("no output file given");
  const auto slash = output.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : output.substr(0, slash));

  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    error("cannot write output: directory '" + dir + "' " +
          (errno == ENOENT ? std::string("does not exist") : std::string(std::strerror(errno))));
  if (!S_ISDIR(st.st_mode)) error("cannot write output: '" + dir + "' is not a directory");
  if (::stat(output.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) error("cannot write output: it is a directory");
    if (::access(output.c_str(), W_OK) != 0)
      error("cannot write output: the existing file is not writable (" + std::string(std::strerror(errno)) + ")");
  }

  // Permissions alone do not tell (read-only mounts, quotas, root squash): write a probe.
  std::string probe = (dir == "/" ? std::string() : dir) + "/.spinlat-write-test-XXXXXX";
  const int fd = ::mkstemp(&probe[0]);
  if (fd < 0)
    error("cannot write output: directory '" + dir + "' is not writable (" + std::strerror(errno) + ")");
  const std::string block(4096, '\0');
  const ssize_t written = ::write(fd, block.data(), block.size());
  const int write_errno = errno;
  const int sync_rc = ::fsync(fd);
  const int sync_errno = errno;
  ::close(fd);
  ::unlink(probe.c_str());
  if (written != static_cast<ssize_t>(block.size()))
    error("cannot write output in '" + dir + "': " +
          (written < 0 && write_errno == ENOSPC ? std::string("the disk is full")
                                                : std::string(std::strerror(written < 0 ? write_errno : EIO))));
  if (sync_rc != 0)
    error("cannot write output in '" + dir + "': " +
          (sync_errno == ENOSPC ? std::string("the disk is full") : std::string(std::strerror(sync_errno))));

  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) == 0) {
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (free_bytes < min_free_bytes) {
      auto mib = [](std::uint64_t b) { return std::to_string(b >> 20) + " MiB"; };
      error("cannot write output: the disk is (nearly) full, " + mib(free_bytes) + " free in '" + dir +
            "', need at least " + mib(min_free_bytes));
    }
  }
}

}  // namespace spinlat
