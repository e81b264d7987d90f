#include "sio/adapter/arguments.hpp"

namespace sio {

boost::json::value move_argument(const boost::json::value& v, const std::vector<binary>& from, std::vector<binary>& to) {
  if (auto n = parser::placeholder_num(v); n && *n < from.size()) {
    to.push_back(from[*n]);
    return parser::make_placeholder(to.size() - 1);
  }
  if (const auto* o = v.if_object()) {
    boost::json::object out;
    out.reserve(o->size());
    for (const auto& kv : *o) out.emplace(kv.key(), move_argument(kv.value(), from, to));
    return out;
  }
  if (const auto* a = v.if_array()) {
    boost::json::array out;
    out.reserve(a->size());
    for (const auto& e : *a) out.push_back(move_argument(e, from, to));
    return out;
  }
  return v;
}

}  // namespace sio
