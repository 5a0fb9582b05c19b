// gconvnet/io/safetensors.hpp — reading and writing the safetensors format (huggingface/safetensors).
//
// Layout: an 8-byte little-endian unsigned header length n; n bytes of JSON
//   {"NAME": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}
// (padded with spaces to a multiple of 8); then the raw little-endian data of every tensor, offsets
// relative to the start of the data. Shapes are row-major, as numpy/torch read them: a ColMajor
// Eigen tensor with extents (a, b, c) is stored with shape [c, b, a] (see row_major_shape).
// The writer adds the metadata entry "gconvnet.fnv1a64" (a checksum of the data bytes); the reader
// verifies it when present, so a flipped byte is reported instead of loaded.
// Every field read is validated before use: header length against the file size, JSON syntax,
// dtypes, shapes, offsets in range and consistent with dtype × shape, no overlap, no gap.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ios>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gconvnet/core/error.hpp"
#include "gconvnet/core/tensor.hpp"
#include "gconvnet/io/atomic_file.hpp"

namespace gconvnet::io {

/// The safetensors dtype name of S ("F32" for float, "F64" for double).
template <class S>
const char* safetensors_dtype() {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "safetensors: only float and double");
  return std::is_same_v<S, float> ? "F32" : "F64";
}

/// The row-major (safetensors/numpy) shape of a ColMajor tensor with extents `dims`: the reverse.
inline std::vector<Index> row_major_shape(std::vector<Index> dims) {
  std::reverse(dims.begin(), dims.end());
  return dims;
}

namespace detail_safetensors {

inline bool host_is_little_endian() {
  const std::uint16_t one = 1;
  unsigned char b = 0;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

/// Appends the values as little-endian bytes.
template <class T>
void append_le(std::vector<unsigned char>& out, const T* values, std::size_t n) {
  const std::size_t at = out.size();
  out.resize(at + n * sizeof(T));
  std::memcpy(out.data() + at, values, n * sizeof(T));
  if (!host_is_little_endian())
    for (std::size_t i = 0; i < n; ++i) std::reverse(out.begin() + at + i * sizeof(T), out.begin() + at + (i + 1) * sizeof(T));
}

/// Reads n little-endian values.
template <class T>
void read_le(const unsigned char* in, T* values, std::size_t n) {
  std::memcpy(values, in, n * sizeof(T));
  if (!host_is_little_endian())
    for (std::size_t i = 0; i < n; ++i) {
      auto* p = reinterpret_cast<unsigned char*>(values + i);
      std::reverse(p, p + sizeof(T));
    }
}

/// FNV-1a, 64 bits, as 16 hex digits.
inline std::string fnv1a64(const unsigned char* data, std::size_t n) {
  std::uint64_t h = 14695981039346656037ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  static const char* hex = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) s[static_cast<std::size_t>(i)] = hex[h & 15u];
  return s;
}

/// Bytes per element of a safetensors dtype, 0 when unknown.
inline std::size_t dtype_size(const std::string& dtype) {
  static const std::map<std::string, std::size_t> sizes = {
      {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4}, {"F64", 8}, {"I64", 8}, {"U64", 8}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

}  // namespace detail_safetensors

inline constexpr const char* safetensors_checksum_key = "gconvnet.fnv1a64";

/// What this object represents: a safetensors file being assembled in memory — tensors in the order
/// added, string metadata — then written atomically (io/atomic_file.hpp).
class SafetensorsWriter {
public:
  /// Adds tensor `name` with row-major `shape`, copying prod(shape) values from `data`.
  /// requires: a new, non-empty name other than "__metadata__"; non-negative extents.
  /// throws: Error otherwise.
  template <class S>
  void add(const std::string& name, const std::vector<Index>& shape, const S* data) {
    const char* fn = "SafetensorsWriter::add";
    detail::check(!name.empty() && name != "__metadata__", fn, "argument 'name' is '", name,
                  "', expected a non-empty name other than __metadata__");
    detail::check(!header_.contains(name), fn, "argument 'name': tensor '", name, "' was already added");
    std::size_t n = 1;
    for (Index d : shape) {
      detail::check(d >= 0, fn, "argument 'shape' of '", name, "' has extent ", d, ", expected >= 0");
      n *= static_cast<std::size_t>(d);
    }
    detail::check(n == 0 || data != nullptr, fn, "argument 'data' of '", name, "' is null");
    const std::size_t begin = data_.size();
    detail_safetensors::append_le(data_, data, n);
    nlohmann::ordered_json entry;
    entry["dtype"] = safetensors_dtype<S>();
    entry["shape"] = nlohmann::ordered_json::array();
    for (Index d : shape) entry["shape"].push_back(static_cast<std::uint64_t>(d));
    entry["data_offsets"] = {static_cast<std::uint64_t>(begin), static_cast<std::uint64_t>(data_.size())};
    header_[name] = std::move(entry);
  }

  /// Sets the string metadata `key` (in "__metadata__").
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

  /// The whole file: length, header (with the checksum entry), data.
  std::vector<unsigned char> bytes() const {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata_) meta[k] = v;
    meta[safetensors_checksum_key] = detail_safetensors::fnv1a64(data_.data(), data_.size());
    header["__metadata__"] = std::move(meta);
    for (const auto& [k, v] : header_.items()) header[k] = v;
    std::string text = header.dump();
    while ((8 + text.size()) % 8 != 0) text.push_back(' ');
    std::vector<unsigned char> out;
    out.reserve(8 + text.size() + data_.size());
    const std::uint64_t n = text.size();
    detail_safetensors::append_le(out, &n, 1);
    out.insert(out.end(), text.begin(), text.end());
    out.insert(out.end(), data_.begin(), data_.end());
    return out;
  }

  /// Writes the file atomically: `path` holds either its old content or the whole new file.
  /// `caller` (the public function that writes, e.g. "save_weights") starts every message.
  /// throws: Error naming the caller and the path when it cannot be written.
  void write(const std::string& path, const std::string& caller = "SafetensorsWriter::write") const {
    write_file_atomically(path, bytes(), caller.c_str());
  }

private:
  nlohmann::ordered_json header_ = nlohmann::ordered_json::object();
  std::map<std::string, std::string> metadata_;
  std::vector<unsigned char> data_;
};

/// What this object represents: a safetensors file read into memory and validated as a whole
/// (header length, JSON, dtypes, shapes, offsets, coverage, checksum); tensors are then copied out
/// with their dtype and shape checked against what the caller expects.
class SafetensorsReader {
public:
  struct Entry {
    std::string dtype;
    std::vector<Index> shape;  ///< row-major
    std::size_t begin = 0, end = 0;
  };

  /// Reads and validates `path`; `function` (the caller, e.g. "load_weights") starts every message.
  /// throws: Error naming the function, the file and what is wrong with it (also for a directory).
  static SafetensorsReader read(const std::string& path, const std::string& function = "SafetensorsReader::read") {
    std::ifstream in(path, std::ios::binary);
    if (!in) detail::fail(function.c_str(), "cannot open '", path, "'");
    std::error_code ec;
    const bool directory = std::filesystem::is_directory(path, ec);  // opens, but reading it throws in libstdc++
    std::vector<unsigned char> bytes;
    bool failed = directory;
    if (!directory) {
      try {
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        failed = in.bad();
      } catch (const std::ios_base::failure&) {
        failed = true;
      }
    }
    if (failed) detail::fail(function.c_str(), "cannot read '", path, "'", directory ? ": it is a directory" : "");
    return SafetensorsReader(path, std::move(bytes), function);
  }

  /// Validates `size` bytes at `data` (a file held in memory, copied); `name` names it in messages and
  /// `function` starts them. requires: data points to `size` bytes (it may be null when size is 0).
  /// throws: Error naming the function, the name and what is wrong with the bytes.
  static SafetensorsReader from_memory(const unsigned char* data, std::size_t size, const std::string& name,
                                       const std::string& function = "SafetensorsReader::from_memory") {
    if (data == nullptr && size != 0)
      detail::fail(function.c_str(), "argument 'data' is null for ", size, " bytes of '", name, "'");
    std::vector<unsigned char> bytes;
    if (size != 0) bytes.assign(data, data + size);
    return SafetensorsReader(name, std::move(bytes), function);
  }

  /// Validates a file held in memory; `path` names it in messages. throws: Error.
  SafetensorsReader(std::string path, std::vector<unsigned char> bytes,
                    std::string function = "SafetensorsReader::read")
      : path_(std::move(path)), function_(std::move(function)), bytes_(std::move(bytes)) {
    parse();
  }

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  /// The names of all tensors, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : entries_) out.push_back(k);
    return out;
  }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// The metadata value of `key`. throws: Error naming the file when it is missing.
  const std::string& metadata(const std::string& key) const {
    const auto it = metadata_.find(key);
    if (it == metadata_.end()) fail("has no metadata entry '", key, "'");
    return it->second;
  }
  /// throws: Error naming the file when there is no tensor `name`.
  const Entry& entry(const std::string& name) const {
    const auto it = entries_.find(name);
    if (it == entries_.end()) fail("has no tensor '", name, "'");
    return it->second;
  }

  /// Copies tensor `name` into out[0..prod(shape)).
  /// requires: the tensor exists with dtype safetensors_dtype<S>() and exactly the row-major `shape`.
  /// throws: Error naming the file, the tensor, what was expected and what is there.
  template <class S>
  void copy_to(const std::string& name, const std::vector<Index>& shape, S* out) const {
    const Entry& e = entry(name);
    if (e.dtype != safetensors_dtype<S>())
      fail("tensor '", name, "' has dtype ", e.dtype, ", expected ", safetensors_dtype<S>());
    if (e.shape != shape) fail("tensor '", name, "' has shape ", shape_string(e.shape), ", expected ", shape_string(shape));
    detail_safetensors::read_le(data_begin() + e.begin, out, (e.end - e.begin) / sizeof(S));
  }

  /// "[a, b, c]".
  static std::string shape_string(const std::vector<Index>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  }

  /// Throws Error("FUNCTION: 'PATH' PARTS...").
  template <class... Parts>
  [[noreturn]] void fail(Parts&&... parts) const {
    detail::fail(function_.c_str(), "'", path_, "' ", std::forward<Parts>(parts)...);
  }

private:
  const unsigned char* data_begin() const { return bytes_.data() + 8 + header_size_; }

  void parse() {
    const std::size_t size = bytes_.size();
    if (size < 8) fail("is truncated or not a safetensors file: ", size, " bytes, expected at least 8");
    std::uint64_t n = 0;
    detail_safetensors::read_le(bytes_.data(), &n, 1);
    if (n > size - 8)
      fail("is truncated or corrupted: its header claims ", n, " bytes but only ", size - 8, " follow the length field");
    header_size_ = static_cast<std::size_t>(n);
    const std::size_t data_size = size - 8 - header_size_;
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(bytes_.begin() + 8, bytes_.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    } catch (const nlohmann::json::exception& e) {
      fail("is corrupted: its header is not valid JSON (", e.what(), ")");
    }
    if (!header.is_object()) fail("is corrupted: its header is not a JSON object");
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    for (const auto& [name, value] : header.items()) {
      if (name == "__metadata__") {
        if (!value.is_object()) fail("is corrupted: __metadata__ is not an object");
        for (const auto& [k, v] : value.items()) {
          if (!v.is_string()) fail("is corrupted: metadata entry '", k, "' is not a string");
          metadata_[k] = v.get<std::string>();
        }
        continue;
      }
      if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
        fail("is corrupted: tensor '", name, "' lacks dtype, shape or data_offsets");
      Entry e;
      const auto& dt = value["dtype"];
      if (!dt.is_string()) fail("is corrupted: tensor '", name, "' has a dtype that is not a string");
      e.dtype = dt.get<std::string>();
      const std::size_t elem = detail_safetensors::dtype_size(e.dtype);
      if (elem == 0) fail("has tensor '", name, "' of unknown dtype '", e.dtype, "'");
      const auto& sh = value["shape"];
      if (!sh.is_array()) fail("is corrupted: tensor '", name, "' has a shape that is not an array");
      std::size_t count = 1;
      for (const auto& d : sh) {
        if (!d.is_number_unsigned()) fail("is corrupted: tensor '", name, "' has a shape entry that is not a non-negative integer");
        const auto v = d.get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()) || (v != 0 && count > size / v))
          fail("is corrupted: tensor '", name, "' has an impossible shape");
        count *= static_cast<std::size_t>(v);
        e.shape.push_back(static_cast<Index>(v));
      }
      const auto& off = value["data_offsets"];
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        fail("is corrupted: tensor '", name, "' has data_offsets that are not two non-negative integers");
      const auto b = off[0].get<std::uint64_t>(), en = off[1].get<std::uint64_t>();
      if (b > en || en > data_size)
        fail("is truncated or corrupted: tensor '", name, "' spans bytes [", b, ", ", en, ") of a data section of ",
             data_size, " bytes");
      if (count > data_size / elem || en - b != count * elem)
        fail("is corrupted: tensor '", name, "' has ", en - b, " bytes, its dtype ", e.dtype, " and shape ",
             shape_string(e.shape), " need ", count * elem);
      e.begin = static_cast<std::size_t>(b);
      e.end = static_cast<std::size_t>(en);
      ranges.emplace_back(e.begin, e.end);
      entries_[name] = std::move(e);
    }
    std::sort(ranges.begin(), ranges.end());
    std::size_t at = 0;
    for (const auto& [b, e] : ranges) {
      if (b != at) fail("is corrupted: its tensors ", b < at ? "overlap" : "leave a gap", " at byte ", std::min(b, at),
                        " of the data section");
      at = e;
    }
    if (at != data_size)
      fail("is corrupted: its data section has ", data_size, " bytes but the tensors cover ", at);
    const auto sum = metadata_.find(safetensors_checksum_key);
    if (sum != metadata_.end() && sum->second != detail_safetensors::fnv1a64(data_begin(), data_size))
      fail("is corrupted: the checksum of its data (", safetensors_checksum_key, ") does not match");
  }

  std::string path_;
  std::string function_;
  std::vector<unsigned char> bytes_;
  std::size_t header_size_ = 0;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace gconvnet::io
