#pragma once
// Turning emit()'s C++ arguments into a packet's JSON array and binary attachments.
#include <concepts>
#include <functional>
#include <memory>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "sio/adapter/adapter.hpp"
#include "sio/adapter/arguments.hpp"

namespace sio::detail {

template <class... A>
payload make_payload(A&&... a) {
  return to_payload(std::forward<A>(a)...);
}

// An EVENT packet ["name", args...] (the namespace is filled in by whoever sends it).
template <class... A>
outgoing_packet make_event(std::string_view name, A&&... a) {
  outgoing_packet o;
  o.packet.type = parser::packet_type::event;
  auto& arr = o.packet.data.emplace_array();
  arr.reserve(1 + sizeof...(A));
  arr.emplace_back(name);
  (append_argument(arr, o.attachments, std::forward<A>(a)), ...);
  return o;
}
outgoing_packet make_event(std::string_view name, payload p);

// Calls `f` with the arguments of a pack but the last, and the last one.
template <class F, class... A>
decltype(auto) split_last(F&& f, A&&... a) {
  static_assert(sizeof...(A) >= 1, "the last argument must be the callback");
  auto tup = std::forward_as_tuple(std::forward<A>(a)...);
  return [&]<std::size_t... I>(std::index_sequence<I...>) -> decltype(auto) {
    return std::forward<F>(f)(std::get<sizeof...(A) - 1>(std::move(tup)), std::get<I>(std::move(tup))...);
  }(std::make_index_sequence<sizeof...(A) - 1>{});
}

using single_ack_fn = std::function<void(std::error_code, payload)>;
using multi_ack_fn = std::function<void(std::error_code, std::vector<payload>)>;

// Accepts callback(std::error_code, boost::json::array) or callback(std::error_code, sio::payload).
template <class F>
single_ack_fn adapt_single_ack(F&& f) {
  if constexpr (std::is_invocable_v<F&, std::error_code, payload>) {
    return single_ack_fn(std::forward<F>(f));
  } else {
    static_assert(std::is_invocable_v<F&, std::error_code, boost::json::array>,
                  "ack callback: void(std::error_code, boost::json::array) or void(std::error_code, sio::payload)");
    return [f = std::forward<F>(f)](std::error_code ec, payload p) mutable { f(ec, std::move(p.args)); };
  }
}

// Accepts callback(ec, std::vector<boost::json::array>) or callback(ec, std::vector<sio::payload>).
template <class F>
multi_ack_fn adapt_multi_ack(F&& f) {
  if constexpr (std::is_invocable_v<F&, std::error_code, std::vector<payload>>) {
    return multi_ack_fn(std::forward<F>(f));
  } else {
    static_assert(std::is_invocable_v<F&, std::error_code, std::vector<boost::json::array>>,
                  "broadcast ack callback: void(std::error_code, std::vector<boost::json::array>)");
    return [f = std::forward<F>(f)](std::error_code ec, std::vector<payload> ps) mutable {
      std::vector<boost::json::array> arrays;
      arrays.reserve(ps.size());
      for (auto& p : ps) arrays.push_back(std::move(p.args));
      f(ec, std::move(arrays));
    };
  }
}

}  // namespace sio::detail
