#pragma once
// What JavaScript makes of a value notepack.decode hands it: the text of a number used as an
// object key, a Date's JSON, a Buffer's bytes read as a string. The decoder uses these so that
// a decoded message is what a Node.js member of the cluster would forward.
#include <optional>
#include <string>
#include <string_view>

namespace sio::msgpack::detail {

// Number::toString (ECMA-262): "1", "1.5", "1e+21", "1e-7", "NaN", "-Infinity"; -0 is "0".
std::string number_to_string(double d);

// JSON.stringify(new Date(time_value)): the Date's toISOString() ("2023-11-14T22:13:20.123Z",
// "+275760-09-13T00:00:00.000Z" outside years 0-9999), or nullopt (JSON null) when the time
// value is not a valid Date (not finite, or more than 8.64e15 ms from the epoch).
std::optional<std::string> date_to_json(double time_value);

// True when `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool is_valid_utf8(std::string_view bytes) noexcept;

// Appends `bytes` read as UTF-8 the way Buffer#toString("utf8") and TextDecoder do (the WHATWG
// decoder): each maximal ill-formed subsequence becomes one U+FFFD.
void append_utf8_replacing_invalid(std::string& out, std::string_view bytes);

}  // namespace sio::msgpack::detail
