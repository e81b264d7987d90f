#pragma once
// C++ arguments as an event's JSON arguments and binary attachments: what emit() does with
// `emit("name", 42, "text", sio::binary{bytes}, my_struct)`, shared by the server's emits and by
// the Redis emitter (which is not a server).
//   sio::payload p = sio::to_payload(42, sio::binary{bytes});   // [42, {"_placeholder":true,"num":0}]
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/json/value_from.hpp>

#include "sio/adapter/types.hpp"

namespace sio {

// Appends one argument: a sio::binary becomes a placeholder plus an attachment; anything a
// boost::json::value can be built from is stored as is; anything else goes through
// boost::json::value_from (described structs, containers).
template <class T>
void append_argument(boost::json::array& args, std::vector<binary>& attachments, T&& v) {
  using D = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<D, binary>) {
    args.push_back(parser::make_placeholder(attachments.size()));
    attachments.push_back(std::forward<T>(v));
  } else if constexpr (std::is_constructible_v<boost::json::value, T&&>) {
    args.emplace_back(std::forward<T>(v));
  } else {
    args.push_back(boost::json::value_from(std::forward<T>(v)));
  }
}

template <class... A>
payload to_payload(A&&... a) {
  payload p;
  p.args.reserve(sizeof...(A));
  (append_argument(p.args, p.attachments, std::forward<A>(a)), ...);
  return p;
}

// A copy of `v`, taken out of a payload whose attachments are `from`, for another payload whose
// attachments are `to`: each attachment a placeholder of `v` stands for is appended to `to` (shared,
// not copied) and the placeholder renumbered. So an argument re-sent in another event (or an ack's
// answer relayed) keeps its binaries.
boost::json::value move_argument(const boost::json::value& v, const std::vector<binary>& from, std::vector<binary>& to);

}  // namespace sio
