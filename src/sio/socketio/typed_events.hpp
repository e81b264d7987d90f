#pragma once
// Typed events: the C++ counterpart of TypeScript's ServerToClientEvents / ClientToServerEvents.
// An event_def names an event and its payload types; payload structs are described with
// Boost.Describe and converted by Boost.JSON (value_from / try_value_to).
//
//   struct chat_message { std::string room; std::string text; };
//   BOOST_DESCRIBE_STRUCT(chat_message, (), (room, text))
//   using chat = sio::event_def<"chat", chat_message>;
//
//   socket->on<chat>([](chat_message m, sio::ack_fn ack) { ack("ok"); });  // ack_fn is optional
//   socket->emit<chat>(chat_message{"lobby", "hi"});      // emit<chat>(42) does not compile
//   io.to("lobby").emit<chat>(msg);
//
// An incoming event whose arguments do not convert to the declared types (too few, wrong
// shape) never reaches the handler: the socket's on_error handlers get
// {"invalid payload", {"event": name}}, and if the client asked for an acknowledgement it gets
// [{"error":"invalid payload"}], so a client waiting on it is not left hanging. Extra arguments
// beyond the declared ones are ignored, as JavaScript handlers ignore them.
#include <cstddef>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include "sio/socketio/event.hpp"

namespace sio {

// A string usable as a template argument: event_def<"chat", ...>.
template <std::size_t N>
struct fixed_string {
  char value[N]{};
  constexpr fixed_string(const char (&s)[N]) {
    for (std::size_t i = 0; i < N; ++i) value[i] = s[i];
  }
  constexpr std::string_view view() const { return {value, N - 1}; }
};

template <fixed_string Name, class... Payload>
struct event_def {
  static constexpr std::string_view name = Name.view();
  using payload_types = std::tuple<Payload...>;
};

namespace detail {

template <class T>
struct is_event_def : std::false_type {};
template <fixed_string N, class... P>
struct is_event_def<event_def<N, P...>> : std::true_type {};

template <class From, class To, class = void>
struct all_convertible : std::false_type {};
template <class... A, class... P>
struct all_convertible<std::tuple<A...>, std::tuple<P...>, std::enable_if_t<sizeof...(A) == sizeof...(P)>>
    : std::conjunction<std::is_convertible<A, P>...> {};

}  // namespace detail

template <class T>
concept event_definition = detail::is_event_def<T>::value;

// The arguments A... may be emitted as event Ev (same count, each convertible to its type).
template <class Ev, class... A>
concept payload_for = event_definition<Ev> &&
                      detail::all_convertible<std::tuple<A&&...>, typename Ev::payload_types>::value;

namespace detail {

template <class Ev, class... A>
outgoing_packet make_typed_event(A&&... a) {
  return [&]<class... P>(std::tuple<P...>*) {
    return make_event(Ev::name, P(std::forward<A>(a))...);
  }(static_cast<typename Ev::payload_types*>(nullptr));
}

// Converts ev's arguments to Ev's payload types and calls f; on mismatch calls reject().
template <class Ev, class F, class Reject>
void invoke_typed(F& f, event& ev, Reject&& reject) {
  [&]<class... P>(std::tuple<P...>*) {
    constexpr std::size_t n = sizeof...(P);
    auto& args = ev.args();
    if (args.size() < n) return reject();
    std::tuple<std::optional<P>...> converted;
    bool ok = true;
    try {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        auto one = [&]<std::size_t J>(std::integral_constant<std::size_t, J>) {
          using T = std::tuple_element_t<J, std::tuple<P...>>;
          if (!ok) return;
          auto r = boost::json::try_value_to<T>(args[J]);
          if (r) std::get<J>(converted).emplace(std::move(*r));
          else ok = false;
        };
        (one(std::integral_constant<std::size_t, I>{}), ...);
      }(std::index_sequence_for<P...>{});
    } catch (...) {  // a conversion that throws instead of reporting: still a bad payload
      ok = false;
    }
    if (!ok) return reject();
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      if constexpr (std::is_invocable_v<F&, P..., ack_fn>) f(std::move(*std::get<I>(converted))..., ev.ack_callback());
      else {
        static_assert(std::is_invocable_v<F&, P...>, "typed handler: void(Payload...) or void(Payload..., sio::ack_fn)");
        f(std::move(*std::get<I>(converted))...);
      }
    }(std::index_sequence_for<P...>{});
  }(static_cast<typename Ev::payload_types*>(nullptr));
}

}  // namespace detail

}  // namespace sio
