#pragma once
// A transparent hash for unordered containers keyed by std::string (or string_view): lookups
// by std::string_view need no temporary string.
//   std::unordered_map<std::string, int, sio::string_hash, std::equal_to<>> m;
//   m.find(std::string_view("key"));
#include <cstddef>
#include <functional>
#include <string_view>

namespace sio {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace sio
