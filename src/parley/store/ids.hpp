#pragma once
// The ids a store derives itself. Shared by every store implementation, so that a database moved
// from SQLite to PostgreSQL keeps the ids clients already hold.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

// A message's public id: "m" + its sequence number (the store's insertion order) zero-padded to
// 19 digits, the width of the largest int64. Fixed width, so ids sort as strings in the order
// the messages were stored, in a conversation and globally:
//   format_message_id(42) == "m0000000000000000042"
std::string format_message_id(std::int64_t seq);
// The sequence number of a well-formed message id; nullopt for anything else.
std::optional<std::int64_t> parse_message_id(std::string_view id);

// The id of the direct (private, two-member) conversation of two users, the same whichever
// order they are given in: "dm:" + the smaller id + ":" + the larger id, each with '%' and ':'
// percent-escaped so that no two pairs share an id ("a:b" with "c" vs "a" with "b:c"):
//   direct_conversation_id("bob", "al:ice") == "dm:al%3Aice:bob"
std::string direct_conversation_id(std::string_view user_a, std::string_view user_b);
// Ids under the store's "dm:" prefix: only direct_conversation creates them.
bool is_direct_conversation_id(std::string_view id) noexcept;

}  // namespace parley
