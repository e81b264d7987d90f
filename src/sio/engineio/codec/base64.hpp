#pragma once
// Standard base64 (RFC 4648, with padding), as Engine.IO uses for binary data over polling.
#include <optional>
#include <string>
#include <string_view>

namespace sio::eio {

std::string base64_encode(std::string_view bytes);
void base64_encode_append(std::string& out, std::string_view bytes);
// nullopt for invalid input (bad characters, bad length or padding).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace sio::eio
