#include "sio/transport/cors.hpp"

#include <algorithm>

namespace sio::transport {

bool cors_options::allows(std::string_view origin) const {
  if (!enabled) return false;
  if (allow_origin) return allow_origin(origin);
  return std::any_of(origins.begin(), origins.end(),
                     [&](const std::string& o) { return o == "*" || o == origin; });
}

}  // namespace sio::transport
