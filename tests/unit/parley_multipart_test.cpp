// The multipart/form-data parser: a state machine over bytes, fed whole or in pieces cut anywhere.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "parley/http/multipart.hpp"

namespace mp = parley::multipart;
using namespace std::string_literals;

namespace {

// What a stream_parser made of a body fed in pieces.
struct outcome {
  std::error_code ec;
  std::optional<mp::part> file;
  std::string file_data;
  std::vector<mp::part> fields;
  std::size_t data_calls = 0;
};

// Feeds `body` cut at `cuts` (increasing offsets), then ends it.
outcome feed_in_pieces(std::string_view body, std::string_view boundary, const std::vector<std::size_t>& cuts,
                       const mp::limits& lim = {}) {
  mp::stream_parser parser(boundary, "file", lim);
  outcome out;
  auto on_data = [&](std::string_view bytes) {
    EXPECT_FALSE(bytes.empty());
    out.file_data.append(bytes);
    ++out.data_calls;
  };
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size() && !out.ec; ++i) {
    std::size_t to = i < cuts.size() ? cuts[i] : body.size();
    out.ec = parser.feed(body.substr(from, to - from), on_data);
    from = to;
  }
  if (!out.ec) out.ec = parser.finish();
  out.file = parser.file();
  out.fields = parser.fields();
  EXPECT_EQ(parser.file_size(), out.file_data.size());
  return out;
}

bool same_part(const mp::part& a, const mp::part& b) {
  return a.name == b.name && a.filename == b.filename && a.content_type == b.content_type && a.data == b.data;
}

void expect_same(const outcome& a, const outcome& b, const std::string& where) {
  EXPECT_EQ(a.ec, b.ec) << where;
  if (a.ec) return;  // what was found before an error may depend on where the input was cut
  EXPECT_EQ(a.file.has_value(), b.file.has_value()) << where;
  if (a.file && b.file) EXPECT_TRUE(same_part(*a.file, *b.file)) << where;
  EXPECT_EQ(a.file_data, b.file_data) << where;
  ASSERT_EQ(a.fields.size(), b.fields.size()) << where;
  for (std::size_t i = 0; i < a.fields.size(); ++i) EXPECT_TRUE(same_part(a.fields[i], b.fields[i])) << where;
}

// Every cut into two pieces, every cut into three pieces (for short bodies), one byte at a time:
// all the same as the body whole.
void expect_same_at_every_split(std::string_view body, std::string_view boundary, const mp::limits& lim = {}) {
  const auto whole = feed_in_pieces(body, boundary, {}, lim);
  for (std::size_t i = 0; i <= body.size(); ++i)
    expect_same(whole, feed_in_pieces(body, boundary, {i}, lim), "cut at " + std::to_string(i));
  if (body.size() <= 200)
    for (std::size_t i = 0; i <= body.size(); ++i)
      for (std::size_t j = i; j <= body.size(); ++j)
        expect_same(whole, feed_in_pieces(body, boundary, {i, j}, lim),
                    "cuts at " + std::to_string(i) + ", " + std::to_string(j));
  std::vector<std::size_t> bytewise;
  for (std::size_t i = 1; i < body.size(); ++i) bytewise.push_back(i);
  expect_same(whole, feed_in_pieces(body, boundary, bytewise, lim), "byte by byte");
}

const std::string sample =
    "preamble\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"note\"\r\n"
    "\r\n"
    "hello\r\n--Xy\r\n"
    "--XyZ  \r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "\r\r\n\r\n-\r\n--\r\n--X\r\n--XyY?\0\r\r\n--Xy"s
    "\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\nepilogue\r\n--XyZ\r\n";

}  // namespace

TEST(MultipartBoundary, FromContentType) {
  EXPECT_EQ(*mp::boundary_from_content_type("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(*mp::boundary_from_content_type("Multipart/Form-Data;boundary=\"a b;c\""), "a b;c");
  EXPECT_EQ(*mp::boundary_from_content_type("multipart/form-data; charset=utf-8; boundary=----x"), "----x");
}

TEST(MultipartBoundary, Refused) {
  EXPECT_EQ(mp::boundary_from_content_type("").error(), mp::error::no_boundary);
  EXPECT_EQ(mp::boundary_from_content_type("application/json").error(), mp::error::no_boundary);
  EXPECT_EQ(mp::boundary_from_content_type("multipart/form-data").error(), mp::error::no_boundary);
  EXPECT_EQ(mp::boundary_from_content_type("multipart/form-data; boundary=").error(), mp::error::no_boundary);
  EXPECT_EQ(mp::boundary_from_content_type("multipart/form-data; boundary=" + std::string(71, 'a')).error(),
            mp::error::no_boundary);
  EXPECT_EQ(mp::boundary_from_content_type("multipart/form-data; boundary=\"unclosed").error(), mp::error::no_boundary);
}

TEST(Multipart, FileAndField) {
  const std::string body =
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"note\"\r\n"
      "\r\n"
      "hello\r\n"
      "--XyZ\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
      "Content-Type: text/plain\r\n"
      "\r\n"
      "line1\r\nline2\r\n"
      "--XyZ--\r\n";
  auto form = mp::parse(body, "XyZ");
  ASSERT_TRUE(form) << form.error().message();
  ASSERT_EQ(form->fields.size(), 1u);
  EXPECT_EQ(form->fields[0].name, "note");
  EXPECT_FALSE(form->fields[0].filename);
  EXPECT_EQ(form->fields[0].data, "hello");
  ASSERT_TRUE(form->file);
  EXPECT_EQ(form->file->name, "file");
  EXPECT_EQ(form->file->filename.value(), "a.txt");
  EXPECT_EQ(form->file->content_type, "text/plain");
  EXPECT_EQ(form->file->data, "line1\r\nline2");
}

TEST(Multipart, BinaryDataWithBoundaryLikeBytes) {
  // "--B" not after CRLF, "\r\n-B", and a trailing CRLF are all data.
  std::string data = "\0\x01--B not at line start\r\n-B\r\n"s;
  const std::string body = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n\r\n" + data +
                           "\r\n--B--";
  auto form = mp::parse(body, "B");
  ASSERT_TRUE(form) << form.error().message();
  ASSERT_TRUE(form->file);
  EXPECT_EQ(form->file->data, data);
  EXPECT_TRUE(form->fields.empty());
}

TEST(Multipart, PreambleEpilogueAndEmptyData) {
  const std::string body =
      "preamble text\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\r\n\r\n--b--\r\nepilogue";
  auto form = mp::parse(body, "b");
  ASSERT_TRUE(form) << form.error().message();
  ASSERT_TRUE(form->file);
  EXPECT_EQ(form->file->data, "");
  EXPECT_EQ(form->file->filename.value(), "");
}

TEST(Multipart, QuotedAndExtendedFilenames) {
  const std::string body =
      "--b\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a\\\"b.txt\"; filename*=UTF-8''%C3%A9t%C3%A9.txt\r\n"
      "\r\nx\r\n--b--";
  auto form = mp::parse(body, "b");
  ASSERT_TRUE(form) << form.error().message();
  EXPECT_EQ(form->file->filename.value(), "\xC3\xA9t\xC3\xA9.txt");  // filename* wins
  const std::string plain = "--b\r\nContent-Disposition: form-data; name=file; filename=\"a\\\"b.txt\"\r\n\r\nx\r\n--b--";
  auto p2 = mp::parse(plain, "b");
  ASSERT_TRUE(p2);
  EXPECT_EQ(p2->file->name, "file");
  EXPECT_EQ(p2->file->filename.value(), "a\"b.txt");
}

TEST(Multipart, MissingFileField) {
  auto form = mp::parse("--b\r\nContent-Disposition: form-data; name=\"other\"; filename=\"a\"\r\n\r\ny\r\n--b--", "b");
  ASSERT_TRUE(form) << form.error().message();
  EXPECT_FALSE(form->file);
  ASSERT_EQ(form->fields.size(), 1u);
  EXPECT_EQ(form->fields[0].data, "y");
}

TEST(Multipart, OnlyTheFirstFileFieldIsStreamed) {
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"1\"\r\n\r\none\r\n"
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"2\"\r\n\r\ntwo\r\n--b--";
  auto form = mp::parse(body, "b");
  ASSERT_TRUE(form) << form.error().message();
  EXPECT_EQ(form->file->filename.value(), "1");
  EXPECT_EQ(form->file->data, "one");
  ASSERT_EQ(form->fields.size(), 1u);
  EXPECT_EQ(form->fields[0].data, "two");
}

TEST(Multipart, Errors) {
  EXPECT_EQ(mp::parse("", "b").error(), mp::error::no_first_boundary);
  EXPECT_EQ(mp::parse("no boundary here", "b").error(), mp::error::no_first_boundary);
  EXPECT_EQ(mp::parse("--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata", "b").error(),
            mp::error::missing_end);
  EXPECT_EQ(mp::parse("--b\r\nContent-Disposition: form-data; name=\"f\"", "b").error(), mp::error::missing_end);
  EXPECT_EQ(mp::parse("--b\r\nno colon here\r\n\r\nx\r\n--b--", "b").error(), mp::error::bad_header);
  EXPECT_EQ(mp::parse("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "b").error(), mp::error::no_disposition);
  EXPECT_EQ(mp::parse("--b\r\nContent-Disposition: attachment; name=\"f\"\r\n\r\nx\r\n--b--", "b").error(),
            mp::error::no_disposition);
  EXPECT_EQ(mp::parse("--b\r\n\r\nx\r\n--b--", "b").error(), mp::error::no_disposition);
  EXPECT_EQ(mp::parse("--bX\r\n", "b").error(), mp::error::bad_header);
  EXPECT_EQ(mp::parse("--b \t x\r\n", "b").error(), mp::error::bad_header);
  EXPECT_EQ(mp::parse("--b-x", "b").error(), mp::error::bad_header);
  EXPECT_EQ(mp::parse("--b\r\r", "b").error(), mp::error::bad_header);
  EXPECT_EQ(mp::parse("--b", "b").error(), mp::error::missing_end);
  EXPECT_EQ(mp::parse("--b-", "b").error(), mp::error::missing_end);
  EXPECT_EQ(mp::parse("--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\r\n\r\nx\r\n--b--", "b").error(),
            mp::error::bad_header);  // an unclosed quote
  EXPECT_EQ(mp::parse("x", "").error(), mp::error::no_boundary);
  EXPECT_EQ(mp::parse("--a\rb", "a\rb").error(), mp::error::no_boundary);
}

TEST(Multipart, ErrorsAreFinal) {
  mp::stream_parser parser("b");
  auto ignore = [](std::string_view) {};
  EXPECT_EQ(parser.feed("--b\r\nbad\r\n\r\n", ignore), mp::error::bad_header);
  EXPECT_EQ(parser.feed("--b--", ignore), mp::error::bad_header);
  EXPECT_EQ(parser.finish(), mp::error::bad_header);
}

TEST(Multipart, Limits) {
  std::string many;
  for (int i = 0; i < 5; ++i) many += "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n";
  many += "--b--";
  EXPECT_TRUE(mp::parse(many, "b", {.max_parts = 5}));
  EXPECT_EQ(mp::parse(many, "b", {.max_parts = 4}).error(), mp::error::too_many_parts);

  std::string big = "--b\r\nContent-Disposition: form-data; name=\"f\"\r\nX-Pad: " + std::string(10000, 'p') +
                    "\r\n\r\nx\r\n--b--";
  EXPECT_EQ(mp::parse(big, "b").error(), mp::error::header_too_large);
  EXPECT_TRUE(mp::parse(big, "b", {.max_header_bytes = 20000}));
  // A header block of exactly the limit is accepted, one byte more is not.
  const std::string head = "Content-Disposition: form-data; name=\"f\"";
  const std::string exact = "--b\r\n" + head + "\r\n\r\nx\r\n--b--";
  EXPECT_TRUE(mp::parse(exact, "b", {.max_header_bytes = head.size()}));
  EXPECT_EQ(mp::parse(exact, "b", {.max_header_bytes = head.size() - 1}).error(), mp::error::header_too_large);

  const std::string field = "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n" + std::string(100, 'v') + "\r\n--b--";
  EXPECT_TRUE(mp::parse(field, "b", {.max_field_bytes = 100}));
  EXPECT_EQ(mp::parse(field, "b", {.max_field_bytes = 99}).error(), mp::error::field_too_large);

  const std::string file =
      "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + std::string(1000, 'F') + "\r\n--b--";
  EXPECT_TRUE(mp::parse(file, "b", {.max_field_bytes = 10, .max_file_bytes = 1000}));
  EXPECT_EQ(mp::parse(file, "b", {.max_file_bytes = 999}).error(), mp::error::file_too_large);
  expect_same_at_every_split(file, "b", {.max_file_bytes = 999});
}

TEST(Multipart, ErrorMessagesAreNamed) {
  for (int e = 1; e <= static_cast<int>(mp::error::file_too_large); ++e) {
    std::error_code ec = static_cast<mp::error>(e);
    EXPECT_EQ(ec.category().name(), std::string("parley.multipart"));
    EXPECT_NE(ec.message(), "multipart error") << e;
  }
}

TEST(MultipartStream, EverySplitGivesTheSameResult) {
  const auto whole = feed_in_pieces(sample, "XyZ", {});
  ASSERT_FALSE(whole.ec) << whole.ec.message();
  ASSERT_TRUE(whole.file);
  EXPECT_EQ(whole.file->filename.value(), "a.bin");
  EXPECT_EQ(whole.file_data, "\r\r\n\r\n-\r\n--\r\n--X\r\n--XyY?\0\r\r\n--Xy"s);
  ASSERT_EQ(whole.fields.size(), 2u);
  EXPECT_EQ(whole.fields[0].data, "hello\r\n--Xy");
  EXPECT_EQ(whole.fields[1].name, "empty");
  EXPECT_EQ(whole.fields[1].data, "");
  expect_same_at_every_split(sample, "XyZ");
}

TEST(MultipartStream, EverySplitOfAMalformedBodyGivesTheSameError) {
  const std::vector<std::pair<std::string, mp::error>> cases = {
      {"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end\r\n--XyZ", mp::error::missing_end},
      {"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ntruncated\r\n--Xy", mp::error::missing_end},
      {"--XyZ\r\nContent-Type: x/y\r\n\r\nx\r\n--XyZ--", mp::error::no_disposition},
      {"--XyZ\r\nno colon\r\n\r\nx\r\n--XyZ--", mp::error::bad_header},
      {"--XyZ\r\n\r\n", mp::error::no_disposition},
      {"--XyZ?\r\n", mp::error::bad_header},
      {"just a preamble\r\n--Xy", mp::error::no_first_boundary},
      {"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + std::string(300, 'a') + "\r\n--XyZ--",
       mp::error::field_too_large},
      {"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX: " + std::string(300, 'h') + "\r\n\r\n\r\n--XyZ--",
       mp::error::header_too_large},
  };
  const mp::limits lim{.max_header_bytes = 200, .max_field_bytes = 200};
  for (const auto& [body, expected] : cases) {
    EXPECT_EQ(feed_in_pieces(body, "XyZ", {}, lim).ec, expected) << body;
    expect_same_at_every_split(body, "XyZ", lim);
  }
}

TEST(MultipartStream, BoundaryStraddlingChunks) {
  // The delimiter after the file, cut at each of its bytes: the file's content never includes
  // any of it, and bytes held back that turn out not to be a delimiter come out as content.
  const std::string head = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n";
  const std::string content = "abc\r\n--XyQ";  // looks like a delimiter up to the Q
  const std::string body = head + content + "\r\n--XyZ--";
  for (std::size_t cut = head.size(); cut <= body.size(); ++cut) {
    auto out = feed_in_pieces(body, "XyZ", {cut});
    ASSERT_FALSE(out.ec) << cut;
    EXPECT_EQ(out.file_data, content) << cut;
    EXPECT_LE(out.data_calls, 3u) << cut;  // whole runs, not byte by byte
  }
  // The held-back bytes are content once the next chunk shows they are not a delimiter.
  mp::stream_parser parser("XyZ");
  std::string got;
  auto on_data = [&](std::string_view b) { got.append(b); };
  ASSERT_FALSE(parser.feed(head + "data\r\n--Xy", on_data));
  EXPECT_EQ(got, "data");  // "\r\n--Xy" held back
  ASSERT_FALSE(parser.feed("Q", on_data));
  EXPECT_EQ(got, "data\r\n--XyQ");
  ASSERT_FALSE(parser.feed("\r\n--XyZ--", on_data));
  EXPECT_TRUE(parser.done());
  EXPECT_FALSE(parser.finish());
  EXPECT_EQ(got, "data\r\n--XyQ");
}

TEST(MultipartStream, StreamsLargeFileAsItArrives) {
  std::mt19937 rng(42);
  std::string content(1 << 20, '\0');
  for (auto& c : content) c = static_cast<char>(rng() % 4 == 0 ? '\r' : rng());  // many CRs
  const std::string body =
      "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big\"\r\n\r\n" + content + "\r\n--b0undary--\r\n";
  mp::stream_parser parser("b0undary", "file", {.max_file_bytes = content.size()});
  std::string got;
  std::size_t calls = 0;
  auto on_data = [&](std::string_view b) {
    got.append(b);
    ++calls;
  };
  const std::size_t chunk = 64 * 1024;
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    ASSERT_FALSE(parser.feed(std::string_view(body).substr(at, chunk), on_data));
    if (at == 0) EXPECT_GT(got.size(), chunk / 2);  // content comes out as it arrives
  }
  ASSERT_FALSE(parser.finish());
  EXPECT_EQ(got, content);
  EXPECT_EQ(parser.file_size(), content.size());
  EXPECT_LE(calls, 2 * (body.size() / chunk + 1));
  // Random cuts too.
  for (int round = 0; round < 20; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = rng() % 5000; at < body.size(); at += 1 + rng() % 70000) cuts.push_back(at);
    auto out = feed_in_pieces(body, "b0undary", cuts);
    ASSERT_FALSE(out.ec);
    EXPECT_EQ(out.file_data, content);
  }
}

TEST(MultipartStream, EpilogueIsIgnored) {
  mp::stream_parser parser("b");
  auto ignore = [](std::string_view) {};
  ASSERT_FALSE(parser.feed("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--b--", ignore));
  EXPECT_TRUE(parser.done());
  EXPECT_FALSE(parser.feed("\r\n--b\r\ngarbage without headers\r\n\r\n", ignore));
  EXPECT_FALSE(parser.finish());
  EXPECT_TRUE(parser.fields().empty());
}
