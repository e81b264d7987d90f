// WebSocket frames (RFC 6455 section 5) and permessage-deflate (RFC 7692 section 7.2), server
// side: headers of what the server sends, the incremental reader of what clients send.
#include "sio/transport/websocket_codec.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>

namespace sio::transport::ws {
namespace {

// RFC 7692 section 7.2.1: a sync-flushed message ends with this empty stored block's tail,
// which the sender removes and the receiver appends again.
constexpr unsigned char deflate_tail[4] = {0x00, 0x00, 0xff, 0xff};

// zlib counts in uInt: feed huge buffers in pieces of this size.
constexpr std::size_t zlib_chunk = std::size_t{1} << 30;

bool is_control(opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

// XORs `n` bytes with the masking key, the first byte being payload byte `offset` of its
// frame (RFC 6455 section 5.3). Eight bytes at a time; byte order does not matter since the
// repeated key is built in memory order.
void unmask(char* p, std::size_t n, const unsigned char key[4], std::size_t offset) noexcept {
  unsigned char k[8];
  for (std::size_t i = 0; i < 8; ++i) k[i] = key[(offset + i) & 3];
  std::uint64_t m;
  std::memcpy(&m, k, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    w ^= m;
    std::memcpy(p + i, &w, 8);
  }
  for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ k[i & 3]);
}

// RFC 6455 section 7.4: the codes an endpoint may receive in a close frame.
bool valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

}  // namespace

// ---- UTF-8 ----

bool valid_utf8(std::string_view text) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII runs eight bytes at a time.
    while (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Unicode Table 3-7, well-formed sequences: the second byte's range excludes overlongs
    // (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;  // 80..C1 (continuation or overlong lead), F5..FF
    }
    if (n - i < len) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k)
      if ((s[i + k] & 0xc0) != 0x80) return false;
    i += len;
  }
  return true;
}

// ---- frames the server sends ----

std::size_t encode_header(opcode op, std::uint64_t payload_size, bool compressed, unsigned char* out) noexcept {
  out[0] = static_cast<unsigned char>(0x80 | (compressed ? 0x40 : 0) | static_cast<std::uint8_t>(op));
  if (payload_size < 126) {
    out[1] = static_cast<unsigned char>(payload_size);
    return 2;
  }
  if (payload_size <= 0xffff) {
    out[1] = 126;
    out[2] = static_cast<unsigned char>(payload_size >> 8);
    out[3] = static_cast<unsigned char>(payload_size);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>(payload_size >> (56 - 8 * i));
  return 10;
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
  unsigned char header[max_header_size];
  if (code == 0 || code == close_code::no_status) {
    // 1005 means "no code": it is sent as a close frame without payload.
    const std::size_t h = encode_header(opcode::close, 0, false, header);
    return std::string(reinterpret_cast<const char*>(header), h);
  }
  std::size_t n = std::min<std::size_t>(reason.size(), 123);
  // Do not cut a UTF-8 sequence: back up to the start of the sequence at the cut.
  while (n > 0 && n < reason.size() && (static_cast<unsigned char>(reason[n]) & 0xc0) == 0x80) --n;
  const std::size_t h = encode_header(opcode::close, 2 + n, false, header);
  std::string out(reinterpret_cast<const char*>(header), h);
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xff));
  out.append(reason.data(), n);
  return out;
}

std::string pong_frame(std::string_view payload) {
  if (payload.size() > 125) payload = payload.substr(0, 125);
  unsigned char header[max_header_size];
  const std::size_t h = encode_header(opcode::pong, payload.size(), false, header);
  std::string out(reinterpret_cast<const char*>(header), h);
  out.append(payload);
  return out;
}

// ---- deflater ----

struct deflater::state {
  z_stream zs{};
  bool reset_each_message = true;
  ~state() { deflateEnd(&zs); }
};

deflater::deflater(const deflate_params& params) : state_(std::make_unique<state>()) {
  // The handshake never agrees on 8 bits (zlib would use 9); clamp for other callers.
  const int bits = std::clamp(params.server_max_window_bits, 9, 15);
  if (deflateInit2(&state_->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    state_->zs = z_stream{};  // nothing for deflateEnd to free
    throw std::bad_alloc();
  }
  state_->reset_each_message = params.server_no_context_takeover;
}

deflater::~deflater() = default;

std::string deflater::compress(std::span<const std::string_view> pieces) {
  z_stream& zs = state_->zs;
  std::size_t total = 0;
  for (std::string_view p : pieces) total += p.size();

  std::string out;
  out.resize(std::min<std::size_t>(total, zlib_chunk) / 2 + 64);
  std::size_t written = 0;
  // Gives zlib the free space at the end of `out`, growing it when full.
  auto room = [&] {
    if (written == out.size()) out.resize(out.size() * 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + written);
    zs.avail_out = static_cast<uInt>(std::min(out.size() - written, zlib_chunk));
  };
  auto run = [&](int flush) {
    room();
    const uInt before = zs.avail_out;
    deflate(&zs, flush);  // Z_OK, or Z_BUF_ERROR when there was nothing to do: both fine
    written += before - zs.avail_out;
  };

  for (std::string_view p : pieces) {
    while (!p.empty()) {
      const std::size_t n = std::min(p.size(), zlib_chunk);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p.data()));
      zs.avail_in = static_cast<uInt>(n);
      while (zs.avail_in > 0) run(Z_NO_FLUSH);
      p.remove_prefix(n);
    }
  }
  // A sync flush is complete when it did not fill the output.
  do run(Z_SYNC_FLUSH);
  while (zs.avail_out == 0);
  out.resize(written);

  if (out.size() >= 4 && std::memcmp(out.data() + out.size() - 4, deflate_tail, 4) == 0) out.resize(out.size() - 4);
  // A repeated flush without input emits nothing (possible only with context takeover);
  // one zero byte is an empty stored block once the receiver appends the tail.
  if (out.empty()) out.push_back('\0');
  if (state_->reset_each_message) deflateReset(&zs);
  return out;
}

// ---- frame_reader ----

struct frame_reader::state {
  // A frame header split between feeds (at most 14 bytes: 2 + 8 length + 4 mask).
  unsigned char header[14];
  std::size_t header_have = 0;

  // The frame whose payload is being read (its header is complete).
  bool in_frame = false;
  opcode frame_op = opcode::continuation;
  bool frame_fin = false;
  unsigned char mask[4] = {};
  std::uint64_t frame_left = 0;  // payload bytes still to come
  std::uint64_t frame_done = 0;  // payload bytes read so far

  // The data message being assembled (its first frame's header was accepted).
  bool in_message = false;
  opcode message_op = opcode::text;
  bool message_compressed = false;
  std::string message;   // payload so far; still compressed when message_compressed
  std::string control;   // the payload of a control frame split between feeds
  std::string inflated;  // the last compressed message, inflated

  // permessage-deflate
  bool deflate = false;
  deflate_params params;
  z_stream zs{};
  bool zs_ready = false;

  ~state() {
    if (zs_ready) inflateEnd(&zs);
  }

  bool holding() const noexcept { return header_have > 0 || in_frame || in_message; }
};

namespace {
// Releases a string's memory, not only its contents.
void release(std::string& s) noexcept { std::string().swap(s); }
}  // namespace

frame_reader::frame_reader(std::size_t max_message_size) : max_message_size_(max_message_size) {}
frame_reader::~frame_reader() = default;
frame_reader::frame_reader(frame_reader&&) noexcept = default;
frame_reader& frame_reader::operator=(frame_reader&&) noexcept = default;

void frame_reader::enable_deflate(const deflate_params& params) {
  if (!state_) state_ = std::make_unique<state>();
  state_->deflate = true;
  state_->params = params;
}

void frame_reader::feed(std::span<char> bytes) { input_ = (error_ || closed_) ? std::span<char>{} : bytes; }

std::uint16_t frame_reader::error() const noexcept { return error_; }

std::size_t frame_reader::held_bytes() const noexcept {
  if (!state_) return 0;
  return state_->header_have + state_->message.size() + state_->control.size();
}

struct frame_reader::frame_header {
  bool fin;
  bool rsv1;
  opcode op;
  std::uint64_t length;
  unsigned char mask[4];
};

namespace {
// The header's size from its second byte (the mask bit is known to be set).
std::size_t header_size(unsigned char b1) noexcept {
  const unsigned len7 = b1 & 0x7f;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}
}  // namespace

// The checks that need only the first two bytes, so that a bad frame fails at once.
bool frame_reader::check_start(unsigned char b0, unsigned char b1) {
  const bool fin = (b0 & 0x80) != 0;
  const bool rsv1 = (b0 & 0x40) != 0;
  const unsigned op = b0 & 0x0f;
  const bool in_message = state_ && state_->in_message;
  const bool deflate = state_ && state_->deflate;
  if (b0 & 0x30) return fail(close_code::protocol_error);     // RSV2, RSV3: no extension defines them
  if (!(b1 & 0x80)) return fail(close_code::protocol_error);  // client frames must be masked
  switch (op) {
    case 0:  // continuation
      if (!in_message || rsv1) return fail(close_code::protocol_error);
      return true;
    case 1:
    case 2:
      if (in_message) return fail(close_code::protocol_error);  // a new message inside another
      // RSV1 marks a compressed message (RFC 7692 section 6), on its first frame only.
      if (rsv1 && !deflate) return fail(close_code::protocol_error);
      return true;
    case 8:
    case 9:
    case 10:
      // Control frames: never fragmented, at most 125 bytes, never compressed.
      if (!fin || rsv1 || (b1 & 0x7f) > 125) return fail(close_code::protocol_error);
      return true;
    default:
      return fail(close_code::protocol_error);
  }
}

bool frame_reader::fail(std::uint16_t code) {
  error_ = code;
  input_ = {};
  state_.reset();  // the connection is failing: nothing held is needed any more
  return false;
}

// Reads a frame header from the held bytes and the input. False when it is incomplete (the
// bytes are held) or bad (error_ is set).
bool frame_reader::read_header(frame_header& h) {
  const unsigned char* p = nullptr;
  if (!state_ || state_->header_have == 0) {
    const auto* in = reinterpret_cast<const unsigned char*>(input_.data());
    if (input_.size() >= 2) {
      if (!check_start(in[0], in[1])) return false;
      const std::size_t hs = header_size(in[1]);
      if (input_.size() >= hs) {
        p = in;
        input_ = input_.subspan(hs);
      }
    }
    if (!p) {
      if (input_.empty()) return false;
      if (!state_) state_ = std::make_unique<state>();
      std::memcpy(state_->header, input_.data(), input_.size());  // less than 14 bytes
      state_->header_have = input_.size();
      input_ = {};
      return false;
    }
  } else {
    state& s = *state_;
    while (true) {
      const std::size_t need = s.header_have < 2 ? 2 : header_size(s.header[1]);
      if (s.header_have >= need) break;
      const std::size_t take = std::min(need - s.header_have, input_.size());
      if (take == 0) return false;
      std::memcpy(s.header + s.header_have, input_.data(), take);
      const bool had_start = s.header_have >= 2;
      s.header_have += take;
      input_ = input_.subspan(take);
      if (!had_start && s.header_have >= 2 && !check_start(s.header[0], s.header[1])) return false;
    }
    s.header_have = 0;
    p = s.header;
  }

  h.fin = (p[0] & 0x80) != 0;
  h.rsv1 = (p[0] & 0x40) != 0;
  h.op = static_cast<opcode>(p[0] & 0x0f);
  const unsigned len7 = p[1] & 0x7f;
  std::size_t at = 2;
  if (len7 == 126) {
    h.length = (std::uint64_t{p[2]} << 8) | p[3];
    at = 4;
  } else if (len7 == 127) {
    h.length = 0;
    for (int i = 0; i < 8; ++i) h.length = (h.length << 8) | p[2 + i];
    at = 10;
    if (h.length >> 63) return fail(close_code::protocol_error);  // RFC 6455 5.2: the top bit must be 0
  } else {
    h.length = len7;
  }
  std::memcpy(h.mask, p + at, 4);
  if (!is_control(h.op)) {
    // Too big as soon as the header says so: the payload is never read.
    const std::size_t so_far = (state_ && state_->in_message) ? state_->message.size() : 0;
    if (h.length > max_message_size_ - std::min(so_far, max_message_size_)) return fail(close_code::message_too_big);
  }
  return true;
}

// A complete control frame.
std::optional<frame_event> frame_reader::on_control(opcode op, std::string_view payload) {
  frame_event ev{frame_event::kind::ping, payload};
  switch (op) {
    case opcode::ping:
      return ev;
    case opcode::pong:
      ev.type = frame_event::kind::pong;
      return ev;
    default:
      break;
  }
  // close (RFC 6455 section 5.5.1): nothing, or a code and a UTF-8 reason.
  ev.type = frame_event::kind::close;
  if (payload.empty()) {
    ev.close_code = close_code::no_status;
  } else {
    if (payload.size() == 1) {
      fail(close_code::protocol_error);
      return std::nullopt;
    }
    ev.close_code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                               static_cast<unsigned char>(payload[1]));
    if (!valid_close_code(ev.close_code)) {
      fail(close_code::protocol_error);
      return std::nullopt;
    }
    ev.payload = payload.substr(2);
    if (!valid_utf8(ev.payload)) {
      fail(close_code::invalid_payload);
      return std::nullopt;
    }
  }
  closed_ = true;
  input_ = {};
  return ev;
}

// A complete data message (still compressed when `compressed`).
std::optional<frame_event> frame_reader::on_message(opcode op, bool compressed, std::string_view payload) {
  if (compressed) {
    const std::uint16_t err = inflate_message(payload);
    if (err) {
      fail(err);
      return std::nullopt;
    }
    payload = state_->inflated;
  }
  if (op == opcode::text) {
    if (!valid_utf8(payload)) {
      fail(close_code::invalid_payload);
      return std::nullopt;
    }
    return frame_event{frame_event::kind::text, payload};
  }
  return frame_event{frame_event::kind::binary, payload};
}

// Inflates one message into state_->inflated, its size bounded by max_message_size_.
// Returns 0 or the close code to fail with.
std::uint16_t frame_reader::inflate_message(std::string_view compressed) {
  state& s = *state_;
  z_stream& zs = s.zs;
  if (!s.zs_ready) {
    zs = z_stream{};
    // The client's window is at most client_max_window_bits; 8 is valid for raw inflate.
    const int bits = std::clamp(s.params.client_max_window_bits, 8, 15);
    if (inflateInit2(&zs, -bits) != Z_OK) throw std::bad_alloc();
    s.zs_ready = true;
  }
  // At most max_message_size_ + 1 bytes of output: one more than allowed means too big.
  const std::size_t limit = max_message_size_ == SIZE_MAX ? SIZE_MAX : max_message_size_ + 1;
  std::string& out = s.inflated;
  out.clear();
  std::size_t written = 0;
  bool ended = false;
  std::uint16_t result = 0;

  const std::string_view inputs[2] = {compressed, std::string_view(reinterpret_cast<const char*>(deflate_tail), 4)};
  for (std::string_view in : inputs) {
    while (!in.empty() && !ended && !result) {
      const std::size_t n = std::min(in.size(), zlib_chunk);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      zs.avail_in = static_cast<uInt>(n);
      while (true) {
        if (written == out.size()) {
          if (out.size() >= limit) {
            result = close_code::message_too_big;
            break;
          }
          const std::size_t want = std::max<std::size_t>({out.size() * 2, compressed.size() * 2, 256});
          out.resize(std::min(want, limit));
        }
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + written);
        zs.avail_out = static_cast<uInt>(std::min(out.size() - written, zlib_chunk));
        const uInt before = zs.avail_out;
        const int ret = inflate(&zs, Z_SYNC_FLUSH);
        written += before - zs.avail_out;
        if (ret == Z_STREAM_END) {
          // The client ended the DEFLATE stream (a block with BFINAL): what follows is ignored,
          // and the next message starts a new stream.
          ended = true;
          break;
        }
        if (ret == Z_MEM_ERROR) throw std::bad_alloc();
        if (ret != Z_OK && ret != Z_BUF_ERROR) {
          result = close_code::invalid_payload;  // not DEFLATE data
          break;
        }
        if (zs.avail_in == 0 && zs.avail_out > 0) break;  // all consumed, all output given
        if (ret == Z_BUF_ERROR && zs.avail_out > 0) {
          result = close_code::invalid_payload;  // no progress though input and room remain
          break;
        }
      }
      in.remove_prefix(n - zs.avail_in);
    }
    if (ended || result) break;
  }
  out.resize(written);
  if (result) return result;
  // Without context takeover each message is a stream of its own.
  if (ended || s.params.client_no_context_takeover) inflateReset(&zs);
  return 0;
}

void frame_reader::trim() {
  if (!state_) return;
  state& s = *state_;
  release(s.inflated);
  if (!s.in_message) release(s.message);
  if (!(s.in_frame && is_control(s.frame_op))) release(s.control);
  if (s.holding()) return;
  if (!s.deflate) {
    state_.reset();
    return;
  }
  // With client context takeover the inflate window is the state of the connection and must
  // persist; otherwise it is freed until the next compressed message.
  if (s.zs_ready && s.params.client_no_context_takeover) {
    inflateEnd(&s.zs);
    s.zs_ready = false;
  }
}

std::optional<frame_event> frame_reader::next() {
  if (error_ || closed_) {
    // Nothing more is read; the close event's buffers are no longer needed.
    input_ = {};
    state_.reset();
    return std::nullopt;
  }
  if (state_) {
    // The previous event's buffers.
    state& s = *state_;
    if (!s.in_message) s.message.clear();
    if (!(s.in_frame && is_control(s.frame_op))) s.control.clear();
    s.inflated.clear();
  }

  while (true) {
    if (state_ && state_->in_frame) {
      // The payload of a held frame: copied (unmasked) into the message or control buffer.
      state& s = *state_;
      std::string& dst = is_control(s.frame_op) ? s.control : s.message;
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(s.frame_left, input_.size()));
      if (take > 0) {
        const std::size_t at = dst.size();
        dst.append(input_.data(), take);
        unmask(dst.data() + at, take, s.mask, static_cast<std::size_t>(s.frame_done & 3));
        s.frame_done += take;
        s.frame_left -= take;
        input_ = input_.subspan(take);
      }
      if (s.frame_left > 0) {
        trim();
        return std::nullopt;
      }
      s.in_frame = false;
      if (is_control(s.frame_op)) {
        // A view into s.control, valid until the next call.
        if (auto ev = on_control(s.frame_op, s.control)) return ev;
        return std::nullopt;  // failed
      }
      if (!s.frame_fin) continue;
      s.in_message = false;
      if (auto ev = on_message(s.message_op, s.message_compressed, s.message)) return ev;
      return std::nullopt;  // failed
    }

    frame_header h;
    if (!read_header(h)) {
      if (!error_) trim();
      return std::nullopt;
    }

    const bool control = is_control(h.op);
    if (h.length <= input_.size() && (control || (h.fin && h.op != opcode::continuation))) {
      // The fast path: the whole frame is in the input. Unmasked in place, returned as a view.
      char* p = input_.data();
      const auto n = static_cast<std::size_t>(h.length);
      unmask(p, n, h.mask, 0);
      input_ = input_.subspan(n);
      if (control) return on_control(h.op, std::string_view(p, n));
      return on_message(h.op, h.rsv1, std::string_view(p, n));
    }

    // The frame is held: its payload goes into the reader's buffers as it arrives.
    if (!state_) state_ = std::make_unique<state>();
    state& s = *state_;
    s.in_frame = true;
    s.frame_op = h.op;
    s.frame_fin = h.fin;
    std::memcpy(s.mask, h.mask, 4);
    s.frame_left = h.length;
    s.frame_done = 0;
    if (!control && h.op != opcode::continuation) {
      s.in_message = true;
      s.message_op = h.op;
      s.message_compressed = h.rsv1;
      s.message.clear();
    }
  }
}

}  // namespace sio::transport::ws
