#include "sio/transport/cors.hpp"

#include <algorithm>
#include <stdexcept>

namespace sio::transport {

bool cors_options::allows(std::string_view origin) const {
  if (!enabled) return false;
  if (allow_origin) return allow_origin(origin);
  return std::any_of(origins.begin(), origins.end(),
                     [&](const std::string& o) { return o == "*" || o == origin; });
}

void cors_options::validate() const {
  if (!enabled || !credentials || allow_origin) return;
  if (std::find(origins.begin(), origins.end(), "*") != origins.end())
    throw std::invalid_argument(
        "cors: origin \"*\" with credentials: browsers refuse credentials for any origin, and granting them to every "
        "origin would let any site act as the user; list the origins (or decide with allow_origin)");
}

}  // namespace sio::transport
