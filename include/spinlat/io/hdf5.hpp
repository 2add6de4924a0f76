#pragma once
// A thin RAII wrapper over the HDF5 C API (1.10), and the file-level conventions of spinlat's
// output (docs/output.md).
//
// Objects are named by absolute paths ("/sweep/energy"); groups in between are created on
// demand. Every HDF5 call is checked: a failure throws h5::Error naming the file, the object
// path, what was being done and HDF5's own innermost message. HDF5's automatic error printing
// is switched off only for the duration of each call (and restored), so nothing is printed
// behind the caller's back and no global setting is left changed.
//
// HDF5 (serial build) is not thread safe: use one File from one thread at a time.
// This header does not include <hdf5.h>: identifiers are held as int64 (hid_t in 1.10+).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace spinlat {

namespace h5 {

using Shape = std::vector<std::uint64_t>;

/// Any failure of an HDF5 call; the message names the file and the object path.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Owns one HDF5 identifier (file, group, dataset, dataspace, type, attribute, property
/// list) and closes it with the matching H5*close when destroyed.
class Handle {
 public:
  Handle() = default;
  explicit Handle(std::int64_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle() { reset(); }

  std::int64_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Closes now; returns false if HDF5 reported a failure (destructors ignore it).
  bool reset();

 private:
  std::int64_t id_ = -1;
};

/// Element type of an appendable dataset.
enum class Type { float64, int64 };

enum class Access { read_only, read_write };

/// One open HDF5 file. Movable, not copyable; closed by the destructor (or close()).
class File {
 public:
  File() = default;
  /// Creates (truncating any existing file).
  static File create(const std::string& path);
  /// Opens an existing file. Errors for a missing or non-HDF5 file say so in plain words.
  static File open(const std::string& path, Access access = Access::read_only);
  /// True if `path` exists and is an HDF5 file.
  static bool is_hdf5(const std::string& path);

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept;
  ~File();

  const std::string& path() const { return path_; }
  bool is_open() const { return id_.valid(); }
  bool writable() const { return writable_; }
  /// H5Fflush: everything written so far reaches the operating system (survives a kill of
  /// this process; use fsync-based checkpoint files for power loss).
  void flush();
  /// Closes, reporting failures (the destructor closes silently).
  void close();

  // ---- structure --------------------------------------------------------------------
  /// True if every component of `obj` exists ("/" always does).
  bool exists(const std::string& obj) const;
  bool is_group(const std::string& obj) const;
  bool is_dataset(const std::string& obj) const;
  /// Creates `group` and any missing parents; no-op if it exists.
  void create_group(const std::string& group);
  /// Names (not paths) of the members of `group`, sorted.
  std::vector<std::string> children(const std::string& group) const;
  /// Paths, relative to `group`, of every dataset below it (recursively), sorted.
  std::vector<std::string> datasets_below(const std::string& group) const;
  /// Unlinks `obj` (space is not reclaimed inside the file).
  void remove(const std::string& obj);
  /// Creates `link` as a second name (hard link) of the existing object `target`.
  void hard_link(const std::string& target, const std::string& link);

  // ---- attributes on a group or dataset ("/" is the root) ------------------------------
  // Setting an attribute replaces any existing one of that name.
  void set_attr(const std::string& obj, const std::string& name, const std::string& value);
  void set_attr(const std::string& obj, const std::string& name, const char* value) {
    set_attr(obj, name, std::string(value));
  }
  void set_attr(const std::string& obj, const std::string& name, double value);
  void set_attr(const std::string& obj, const std::string& name, std::int64_t value);
  void set_attr(const std::string& obj, const std::string& name, std::uint64_t value);
  /// Any other integer type (int, long long, unsigned): stored as int64 or uint64.
  template <class T, std::enable_if_t<std::is_integral<T>::value && !std::is_same<T, bool>::value &&
                                          !std::is_same<T, std::int64_t>::value &&
                                          !std::is_same<T, std::uint64_t>::value,
                                      int> = 0>
  void set_attr(const std::string& obj, const std::string& name, T value) {
    if constexpr (std::is_signed<T>::value)
      set_attr(obj, name, static_cast<std::int64_t>(value));
    else
      set_attr(obj, name, static_cast<std::uint64_t>(value));
  }
  void set_attr(const std::string& obj, const std::string& name, const std::vector<double>& v);
  void set_attr(const std::string& obj, const std::string& name, const std::vector<std::int64_t>& v);
  void set_attr(const std::string& obj, const std::string& name, const std::vector<std::string>& v);

  bool has_attr(const std::string& obj, const std::string& name) const;
  std::vector<std::string> attr_names(const std::string& obj) const;
  /// Readers convert any numeric type (HDF5 conversion); strings may be fixed or variable length.
  std::string attr_string(const std::string& obj, const std::string& name) const;
  double attr_double(const std::string& obj, const std::string& name) const;
  std::int64_t attr_int(const std::string& obj, const std::string& name) const;
  std::uint64_t attr_uint(const std::string& obj, const std::string& name) const;
  std::vector<double> attr_doubles(const std::string& obj, const std::string& name) const;
  std::vector<std::int64_t> attr_ints(const std::string& obj, const std::string& name) const;
  std::vector<std::string> attr_strings(const std::string& obj, const std::string& name) const;

  // ---- whole datasets (replace any existing dataset of that path) -----------------------
  /// `shape` empty means 1-d [data.size()]; otherwise its product must equal data.size().
  void write(const std::string& dset, const std::vector<double>& data, const Shape& shape = {});
  void write(const std::string& dset, const std::vector<std::int64_t>& data, const Shape& shape = {});
  /// Scalar dataspace.
  void write_scalar(const std::string& dset, double value);
  void write_scalar(const std::string& dset, std::int64_t value);
  /// Scalar variable-length UTF-8 string.
  void write_string(const std::string& dset, const std::string& text);
  /// 1-d array of variable-length UTF-8 strings.
  void write_strings(const std::string& dset, const std::vector<std::string>& texts);
  /// Arbitrary bytes (NULs included) as a 1-d uint8 dataset.
  void write_bytes(const std::string& dset, const std::string& bytes);

  /// A fixed-shape dataset every element of which is `fill` (NaN marks "not yet computed").
  void create_filled(const std::string& dset, const Shape& shape, double fill);
  void create_filled(const std::string& dset, const Shape& shape, std::int64_t fill);
  /// Writes one element at `index` (one entry per axis).
  void write_element(const std::string& dset, const Shape& index, double value);
  void write_element(const std::string& dset, const Shape& index, std::int64_t value);

  // ---- appendable datasets: [frames, frame_shape...], unlimited along the first axis -----
  /// `chunk_frames` 0 picks about 64 KiB per chunk (at least one frame).
  void create_appendable(const std::string& dset, Type type, const Shape& frame_shape,
                         std::uint64_t chunk_frames = 0);
  /// Appends data.size() / frame_size frames (data.size() must be a multiple of it).
  void append(const std::string& dset, const std::vector<double>& data);
  void append(const std::string& dset, const std::vector<std::int64_t>& data);
  void append(const std::string& dset, const double* data, std::size_t count);
  void append(const std::string& dset, const std::int64_t* data, std::size_t count);
  /// Sets the number of frames (truncates or extends with the fill value).
  void resize(const std::string& dset, std::uint64_t frames);

  // ---- reading -----------------------------------------------------------------------
  Shape shape(const std::string& dset) const;
  /// Row-major contents, converted to double / int64 by HDF5.
  std::vector<double> read_doubles(const std::string& dset) const;
  std::vector<std::int64_t> read_ints(const std::string& dset) const;
  std::string read_string(const std::string& dset) const;
  std::vector<std::string> read_strings(const std::string& dset) const;
  std::string read_bytes(const std::string& dset) const;
  /// Row-major rows [first, first + count) along the first axis.
  std::vector<double> read_rows(const std::string& dset, std::uint64_t first, std::uint64_t count) const;
  std::vector<std::int64_t> read_int_rows(const std::string& dset, std::uint64_t first,
                                          std::uint64_t count) const;

 private:
  File(Handle id, std::string path, bool writable)
      : id_(std::move(id)), path_(std::move(path)), writable_(writable) {}
  [[noreturn]] void fail(const std::string& obj, const std::string& action) const;
  Handle open_object(const std::string& obj) const;
  Handle open_dataset(const std::string& dset) const;
  void require_writable(const std::string& obj) const;
  void ensure_parent(const std::string& obj);
  void write_numeric(const std::string& dset, const void* data, std::int64_t mem_type,
                     std::int64_t file_type, const Shape& shape);
  void write_attr_raw(const std::string& obj, const std::string& name, std::int64_t file_type,
                      std::int64_t mem_type, const Shape& shape, const void* data);
  void read_attr_numeric(const std::string& obj, const std::string& name, std::int64_t mem_type,
                         void* out, std::size_t expect) const;
  std::size_t attr_size(const std::string& obj, const std::string& name) const;
  void append_raw(const std::string& dset, const void* data, std::size_t count, std::int64_t mem_type);
  void write_element_raw(const std::string& dset, const Shape& index, const void* value,
                         std::int64_t mem_type);
  void read_rows_raw(const std::string& dset, std::uint64_t first, std::uint64_t count,
                     std::int64_t mem_type, void* out) const;

  Handle id_;
  std::string path_;
  bool writable_ = false;
};

/// Splits "/a/b/c" into {"a", "b", "c"}; "" and "/" give {}.
std::vector<std::string> split_path(const std::string& path);
/// "/a/b" + "c" → "/a/b/c".
std::string join_path(const std::string& group, const std::string& name);

}  // namespace h5

/// Description of spinlat's unit system stored in the root attribute `units`.
std::string units_description();
/// Current UTC time as ISO 8601 ("2024-05-01T12:34:56Z").
std::string iso_time_now();

/// What a run stamps on its output file's root.
struct RunInfo {
  std::string input;          ///< the input as run (TOML text, overrides applied)
  std::uint64_t seed = 0;
  std::string title;          ///< optional
};

/// Writes the root attributes `spinlat_version`, `input`, `units`, `seed`, `created`
/// (and `title` when not empty).
void write_root_attributes(h5::File& file, const RunInfo& info);

/// Fails early, before a long run, if `output` could not be written: its directory does not
/// exist or is not a directory, is not writable (a probe file is created, synced and
/// removed), an existing `output` is not writable, or fewer than `min_free_bytes` are free
/// on that file system (statvfs). Throws InputError naming the path and the reason.
void check_writable(const std::string& output, std::uint64_t min_free_bytes = 16u << 20);

}  // namespace spinlat
