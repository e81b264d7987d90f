// The multipart/form-data parser: a pure function over bytes.
#include <gtest/gtest.h>

#include <string>

#include "parley/http/multipart.hpp"

namespace mp = parley::multipart;
using namespace std::string_literals;


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
  auto parts = mp::parse(body, "XyZ");
  ASSERT_TRUE(parts) << parts.error().message();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "note");
  EXPECT_FALSE((*parts)[0].filename);
  EXPECT_EQ((*parts)[0].data, "hello");
  EXPECT_EQ((*parts)[1].name, "file");
  EXPECT_EQ((*parts)[1].filename.value(), "a.txt");
  EXPECT_EQ((*parts)[1].content_type, "text/plain");
  EXPECT_EQ((*parts)[1].data, "line1\r\nline2");
}

TEST(Multipart, BinaryDataWithBoundaryLikeBytes) {
  // "--B" not after CRLF, "\r\n-B", and a trailing CRLF are all data.
  std::string data = "\0\x01--B not at line start\r\n-B\r\n"s;
  const std::string body = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n\r\n" + data +
                           "\r\n--B--";
  auto parts = mp::parse(body, "B");
  ASSERT_TRUE(parts) << parts.error().message();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].data, data);
  EXPECT_EQ((*parts)[0].data.size(), data.size());
}

TEST(Multipart, PreambleEpilogueAndEmptyData) {
  const std::string body =
      "preamble text\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\r\n\r\n--b--\r\nepilogue";
  auto parts = mp::parse(body, "b");
  ASSERT_TRUE(parts) << parts.error().message();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].data, "");
  EXPECT_EQ((*parts)[0].filename.value(), "");
}

TEST(Multipart, QuotedAndExtendedFilenames) {
  const std::string body =
      "--b\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a\\\"b.txt\"; filename*=UTF-8''%C3%A9t%C3%A9.txt\r\n"
      "\r\nx\r\n--b--";
  auto parts = mp::parse(body, "b");
  ASSERT_TRUE(parts) << parts.error().message();
  EXPECT_EQ((*parts)[0].filename.value(), "\xC3\xA9t\xC3\xA9.txt");  // filename* wins
  const std::string plain = "--b\r\nContent-Disposition: form-data; name=file; filename=\"a\\\"b.txt\"\r\n\r\nx\r\n--b--";
  auto p2 = mp::parse(plain, "b");
  ASSERT_TRUE(p2);
  EXPECT_EQ((*p2)[0].name, "file");
  EXPECT_EQ((*p2)[0].filename.value(), "a\"b.txt");
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
  EXPECT_EQ(mp::parse("--b", "b").error(), mp::error::missing_end);
  EXPECT_EQ(mp::parse("x", "").error(), mp::error::no_boundary);
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
}

TEST(Multipart, ErrorMessagesAreNamed) {
  std::error_code ec = mp::error::missing_end;
  EXPECT_EQ(ec.category().name(), std::string("parley.multipart"));
  EXPECT_FALSE(ec.message().empty());
}
