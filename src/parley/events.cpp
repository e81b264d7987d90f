// Validation of incoming payloads, and the JSON forms that Boost.Describe cannot express.
#include "parley/events.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <boost/json/value_from.hpp>


namespace parley::events {

namespace json = boost::json;

void tag_invoke(const json::value_from_tag&, json::value& jv, const message& m) {
  json::object o;
  o["id"] = m.id;
  o["conversationId"] = m.conversationId;
  o["senderId"] = m.senderId;
  o["content"] = m.content;
  o["createdAt"] = m.createdAt;
  if (m.clientMessageId) o["clientMessageId"] = *m.clientMessageId;
  if (!m.attachments.empty()) o["attachments"] = json::value_from(m.attachments);
  jv = std::move(o);
}

void tag_invoke(const json::value_from_tag&, json::value& jv, const conversation& c) {
  jv = json::object{{"id", c.id},
                    {"title", c.title},
                    {"private", c.is_private},
                    {"memberIds", json::value_from(c.memberIds)},
                    {"createdBy", c.createdBy},
                    {"createdAt", c.createdAt}};
}

std::size_t json_size_bound(std::string_view s) noexcept {
  std::size_t n = 2;  // the quotes
  for (unsigned char c : s) n += c < 0x20 ? 6 : (c == '"' || c == '\\') ? 2 : 1;
  return n;
}

namespace {
// `"key":` and the comma after the value.
constexpr std::size_t field(std::string_view key) noexcept { return key.size() + 4; }
constexpr std::size_t max_integer_text = 20;  // "-9223372036854775808"
}  // namespace

std::size_t json_size_bound(const message& m) noexcept {
  std::size_t n = 2 + field("id") + json_size_bound(m.id) + field("conversationId") +
                  json_size_bound(m.conversationId) + field("senderId") + json_size_bound(m.senderId) +
                  field("content") + json_size_bound(m.content) + field("createdAt") + json_size_bound(m.createdAt);
  if (m.clientMessageId) n += field("clientMessageId") + json_size_bound(*m.clientMessageId);
  if (!m.attachments.empty()) {
    n += field("attachments") + 2;
    for (const auto& a : m.attachments)
      n += 3 + field("fileId") + json_size_bound(a.fileId) + field("name") + json_size_bound(a.name) + field("size") +
           max_integer_text + field("contentType") + json_size_bound(a.contentType) + field("url") +
           json_size_bound(a.url);
  }
  return n;
}

std::size_t json_size_bound(const conversation& c) noexcept {
  std::size_t n = 2 + field("id") + json_size_bound(c.id) + field("title") + json_size_bound(c.title) +
                  field("private") + 5 + field("memberIds") + 2 + field("createdBy") + json_size_bound(c.createdBy) +
                  field("createdAt") + json_size_bound(c.createdAt);
  for (const auto& member : c.memberIds) n += json_size_bound(member) + 1;
  return n;
}

std::size_t code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string format_time(std::int64_t ms) {
  std::int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int millis = static_cast<int>(ms - secs * 1000);
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

namespace {

error_body bad(std::string message) { return {std::string(code::bad_request), std::move(message)}; }

const json::object* first_object(const json::array& args) {
  if (args.empty()) return nullptr;
  return args[0].if_object();
}

// A required non-empty string field of at most max_id_length bytes.
std::optional<error_body> required_id(const json::object& o, std::string_view key, std::string& out) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return bad(std::string(key) + " is required");
  auto* s = it->value().if_string();
  if (!s) return bad(std::string(key) + " must be a string");
  if (s->empty()) return bad(std::string(key) + " must not be empty");
  if (s->size() > max_id_length) return bad(std::string(key) + " is too long");
  out.assign(s->data(), s->size());
  return std::nullopt;
}

// An optional string field (absent or null: nullopt).
std::optional<error_body> optional_string(const json::object& o, std::string_view key,
                                          std::optional<std::string>& out, std::size_t max_len,
                                          bool allow_empty = false) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  auto* s = it->value().if_string();
  if (!s) return bad(std::string(key) + " must be a string");
  if (!allow_empty && s->empty()) return bad(std::string(key) + " must not be empty");
  if (code_points(*s) > max_len) return bad(std::string(key) + " is too long");
  out.emplace(s->data(), s->size());
  return std::nullopt;
}

// The optional `limit` of a page: a positive integer; asks over `max` get `max`.
std::optional<error_body> page_limit(const json::object& o, int max, int& out) {
  auto it = o.find("limit");
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  const auto& v = it->value();
  double d;
  if (v.is_int64()) d = static_cast<double>(v.get_int64());
  else if (v.is_uint64()) d = static_cast<double>(v.get_uint64());
  else if (v.is_double()) d = v.get_double();
  else return bad("limit must be a number");
  if (!(d >= 1)) return bad("limit must be a positive integer");
  if (d >= max) {
    out = max;
    return std::nullopt;
  }
  if (d != std::floor(d)) return bad("limit must be a positive integer");
  out = static_cast<int>(d);
  return std::nullopt;
}

bool blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
  return true;
}

std::optional<error_body> content_field(const json::object& o, const limits& lim, std::string& out) {
  auto it = o.find("content");
  if (it == o.end() || it->value().is_null()) return bad("content is required");
  auto* s = it->value().if_string();
  if (!s) return bad("content must be a string");
  if (blank(*s)) return bad("content must not be empty");
  if (code_points(*s) > lim.max_message_length)
    return bad("content is longer than " + std::to_string(lim.max_message_length) + " characters");
  out.assign(s->data(), s->size());
  return std::nullopt;
}

// A binary placeholder {"_placeholder":true,"num":N} standing for bins[N], or null.
const sio::binary* as_binary(const json::value& v, const std::vector<sio::binary>& bins) {
  auto* o = v.if_object();
  if (!o || o->size() != 2) return nullptr;
  auto ph = o->find("_placeholder");
  auto num = o->find("num");
  if (ph == o->end() || num == o->end() || !ph->value().is_bool() || !ph->value().get_bool()) return nullptr;
  auto* n = num->value().if_int64();
  std::int64_t idx = n ? *n : -1;
  if (auto* u = num->value().if_uint64()) idx = *u <= bins.size() ? static_cast<std::int64_t>(*u) : -1;
  if (idx < 0 || static_cast<std::size_t>(idx) >= bins.size()) return nullptr;
  return &bins[static_cast<std::size_t>(idx)];
}

std::optional<error_body> attachments_field(const json::object& o, const std::vector<sio::binary>& bins,
                                            const limits& lim, std::vector<attachment_ref>& out) {
  auto it = o.find("attachments");
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  auto* arr = it->value().if_array();
  if (!arr) return bad("attachments must be an array");
  if (arr->size() > lim.max_attachments)
    return bad("at most " + std::to_string(lim.max_attachments) + " attachments");
  for (const auto& item : *arr) {
    attachment_ref ref;
    if (auto* b = as_binary(item, bins)) {
      ref.data = *b;
    } else if (auto* a = item.if_object()) {
      auto f = a->find("fileId");
      auto d = a->find("data");
      if (f != a->end()) {
        auto* s = f->value().if_string();
        if (!s || s->empty() || s->size() > max_id_length) return bad("attachments[].fileId must be a string");
        ref.fileId.emplace(s->data(), s->size());
      } else if (d != a->end()) {
        auto* b2 = as_binary(d->value(), bins);
        if (!b2) return bad("attachments[].data must be binary");
        ref.data = *b2;
        std::optional<std::string> name, type;
        if (auto e = optional_string(*a, "name", name, 255)) return e;
        if (auto e = optional_string(*a, "contentType", type, 255)) return e;
        if (name) ref.name = *name;
        if (type) ref.contentType = *type;
      } else {
        return bad("attachments[] needs a fileId");
      }
    } else {
      return bad("attachments[] must be { fileId }");
    }
    if (ref.data && ref.data->size() > lim.max_attachment_bytes)
      return error_body{std::string(code::payload_too_large), "attachment too large"};
    out.push_back(std::move(ref));
  }
  return std::nullopt;
}

}  // namespace

parsed<conversation_ref> parse_conversation_ref(const json::array& args) {
  if (args.empty()) return bad("conversationId is required");
  conversation_ref r;
  if (auto* s = args[0].if_string()) {
    if (s->empty()) return bad("conversationId must not be empty");
    if (s->size() > max_id_length) return bad("conversationId is too long");
    r.conversationId.assign(s->data(), s->size());
    return r;
  }
  auto* o = args[0].if_object();
  if (!o) return bad("conversationId is required");
  if (auto e = required_id(*o, "conversationId", r.conversationId)) return *e;
  return r;
}

parsed<create_request> parse_create(const json::array& args, const limits& lim) {
  create_request r;
  if (args.empty() || args[0].is_null()) return r;  // every field is optional
  auto* o = first_object(args);
  if (!o) return bad("the payload must be an object");
  if (auto e = optional_string(*o, "conversationId", r.conversationId, max_id_length)) return *e;
  if (auto e = optional_string(*o, "title", r.title, 200, true)) return *e;
  if (auto it = o->find("private"); it != o->end() && !it->value().is_null()) {
    if (!it->value().is_bool()) return bad("private must be a boolean");
    r.is_private = it->value().get_bool();
  }
  if (auto it = o->find("memberIds"); it != o->end() && !it->value().is_null()) {
    auto* arr = it->value().if_array();
    if (!arr) return bad("memberIds must be an array of strings");
    // The array alone may already say too many (the creator is added, duplicates removed later).
    if (arr->size() > lim.max_conversation_members)
      return bad("too many memberIds: a conversation has at most " + std::to_string(lim.max_conversation_members) +
                 " members");
    for (const auto& v : *arr) {
      auto* s = v.if_string();
      if (!s || s->empty() || s->size() > max_id_length) return bad("memberIds must be an array of strings");
      r.memberIds.emplace_back(s->data(), s->size());
    }
  }
  return r;
}

parsed<send_request> parse_send(const json::array& args, const std::vector<sio::binary>& bins, const limits& lim) {
  auto* o = first_object(args);
  if (!o) return bad("the payload must be an object { conversationId, content }");
  send_request r;
  if (auto e = required_id(*o, "conversationId", r.conversationId)) return *e;
  if (auto e = content_field(*o, lim, r.content)) return *e;
  if (auto e = optional_string(*o, "clientMessageId", r.clientMessageId, max_id_length)) return *e;
  if (auto e = attachments_field(*o, bins, lim, r.attachments)) return *e;
  return r;
}

parsed<private_request> parse_private(const json::array& args, const std::vector<sio::binary>& bins,
                                      const limits& lim) {
  auto* o = first_object(args);
  if (!o) return bad("the payload must be an object { recipientUserId, content }");
  private_request r;
  if (auto e = required_id(*o, "recipientUserId", r.recipientUserId)) return *e;
  if (auto e = content_field(*o, lim, r.content)) return *e;
  if (auto e = optional_string(*o, "clientMessageId", r.clientMessageId, max_id_length)) return *e;
  if (auto e = attachments_field(*o, bins, lim, r.attachments)) return *e;
  return r;
}

parsed<history_request> parse_history(const json::array& args, const limits& lim) {
  history_request r;
  r.limit = lim.default_history;
  if (!args.empty() && args[0].is_string()) {  // like conversation:join, a bare id is accepted
    auto ref = parse_conversation_ref(args);
    if (!ref) return ref.error();
    r.conversationId = std::move(ref->conversationId);
    return r;
  }
  auto* o = first_object(args);
  if (!o) return bad("the payload must be an object { conversationId }");
  if (auto e = required_id(*o, "conversationId", r.conversationId)) return *e;
  if (auto e = optional_string(*o, "before", r.before, max_id_length)) return *e;
  // At most 200, as the contract says: larger asks are capped.
  if (auto e = page_limit(*o, lim.max_history, r.limit)) return *e;
  return r;
}

parsed<list_request> parse_list(const json::array& args, const limits& lim) {
  list_request r;
  r.limit = lim.default_conversation_page;
  if (args.empty() || args[0].is_null()) return r;  // the first page, as before paging existed
  auto* o = first_object(args);
  if (!o) return bad("the payload must be an object { limit?, before? }");
  if (auto e = optional_string(*o, "before", r.before, max_cursor_length)) return *e;
  if (auto e = page_limit(*o, lim.max_conversation_page, r.limit)) return *e;
  return r;
}

parsed<online_request> parse_online(const json::array& args) {
  online_request r;
  if (args.empty() || args[0].is_null()) return r;
  auto* o = first_object(args);
  if (!o) return bad("the payload must be an object { after? }");
  // User ids come from tokens, which may hold longer ids than clients may send elsewhere.
  if (auto e = optional_string(*o, "after", r.after, 16 * 1024)) return *e;
  return r;
}

parsed<read_request> parse_read(const json::array& args) {
  read_request r;
  if (!args.empty() && args[0].is_string()) {
    auto* s = args[0].if_string();
    if (s->empty() || s->size() > max_id_length) return bad("messageId must be a non-empty string");
    r.messageId.assign(s->data(), s->size());
    return r;
  }
  auto* o = first_object(args);
  if (!o) return bad("the payload must be an object { messageId }");
  if (auto e = required_id(*o, "messageId", r.messageId)) return *e;
  if (auto e = optional_string(*o, "conversationId", r.conversationId, max_id_length)) return *e;
  return r;
}

}  // namespace parley::events
