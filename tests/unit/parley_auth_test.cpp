// The security guard: JWT verification (and signing) and the connection middleware.
// Tokens are made here with OpenSSL directly, not with libjwt, so that every malformed,
// mis-signed or mis-claimed variant can be built, and so that the verifier is checked against an
// independent implementation of HS256 / RS256 / ES256.
#include <gtest/gtest.h>

#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "fake_session.hpp"
#include "parley/auth/guard.hpp"
#include "parley/auth/jwt.hpp"
#include "sio/socketio/server.hpp"

using namespace std::chrono_literals;
namespace json = boost::json;
using parley::auth::algorithm;
using parley::auth::auth_error;
using parley::auth::jwt_options;
using parley::auth::jwt_verifier;

namespace {

// ---------------------------------------------------------------------------- token making

const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
const std::int64_t now_s = 1'800'000'000;
const std::string secret = "test-secret-0123456789abcdef0123";

std::string b64url(std::string_view bytes) {
  static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = (std::uint32_t(std::uint8_t(bytes[i])) << 16) | (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) |
             std::uint8_t(bytes[i + 2]);
    out += {tbl[n >> 18], tbl[(n >> 12) & 63], tbl[(n >> 6) & 63], tbl[n & 63]};
  }
  if (bytes.size() - i == 1) {
    auto n = std::uint32_t(std::uint8_t(bytes[i])) << 16;
    out += {tbl[n >> 18], tbl[(n >> 12) & 63]};
  } else if (bytes.size() - i == 2) {
    auto n = (std::uint32_t(std::uint8_t(bytes[i])) << 16) | (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8);
    out += {tbl[n >> 18], tbl[(n >> 12) & 63], tbl[(n >> 6) & 63]};
  }
  return out;
}

std::string b64url_decode(std::string_view s) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-' ? 62 : 63;
    acc = (acc << 6) | std::uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  return out;
}

json::object claims_of(const std::string& token) {
  auto a = token.find('.'), b = token.find('.', a + 1);
  return json::parse(b64url_decode(token.substr(a + 1, b - a - 1))).as_object();
}
json::object header_of(const std::string& token) {
  return json::parse(b64url_decode(token.substr(0, token.find('.')))).as_object();
}

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

std::string hmac256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string digest_sign(EVP_PKEY* key, std::string_view data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key), 1);
  std::size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size()),
            1);
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

// ECDSA signatures are DER in OpenSSL and R||S (32 bytes each for P-256) in JOSE (RFC 7518 §3.4).
std::string der_to_jose(const std::string& der) {
  auto p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, long(der.size()));
  std::string out(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(out.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
  ECDSA_SIG_free(sig);
  return out;
}

struct keypair {
  pkey_ptr key;
  std::string public_pem;
  std::string private_pem;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string s(data, std::size_t(n));
  BIO_free(bio);
  return s;
}

keypair make_keys(pkey_ptr key) {
  keypair kp;
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(pub, key.get());
  kp.public_pem = bio_text(pub);
  BIO* priv = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  kp.private_pem = bio_text(priv);
  kp.key = std::move(key);
  return kp;
}

// Key generation is slow (RSA): once per test program.
const keypair& rsa_keys() {
  static const keypair k = make_keys(pkey_ptr(EVP_RSA_gen(2048)));
  return k;
}
const keypair& rsa_keys_other() {
  static const keypair k = make_keys(pkey_ptr(EVP_RSA_gen(2048)));
  return k;
}
const keypair& ec_keys() {
  static const keypair k = make_keys(pkey_ptr(EVP_EC_gen("P-256")));
  return k;
}
const keypair& ec_keys_other() {
  static const keypair k = make_keys(pkey_ptr(EVP_EC_gen("P-256")));
  return k;
}

// Signs header.payload with `alg` ("HS256" with `hs_key`, "RS256"/"ES256" with `pem_key`,
// "none": no signature) whatever the header says.
struct signer {
  std::string alg = "HS256";
  std::string hs_key = secret;
  EVP_PKEY* pem_key = nullptr;
};

std::string make_token_raw(const std::string& header_json, const std::string& payload_json, const signer& s = {}) {
  std::string input = b64url(header_json) + "." + b64url(payload_json);
  std::string sig;
  if (s.alg == "HS256") sig = hmac256(s.hs_key, input);
  else if (s.alg == "RS256") sig = digest_sign(s.pem_key, input);
  else if (s.alg == "ES256") sig = der_to_jose(digest_sign(s.pem_key, input));
  return input + "." + b64url(sig);
}

std::string make_token(const json::object& claims, const signer& s = {}, json::object header = {}) {
  if (!header.contains("alg")) header["alg"] = s.alg;
  if (!header.contains("typ")) header["typ"] = "JWT";
  return make_token_raw(json::serialize(header), json::serialize(claims), s);
}

json::object alice(std::int64_t ttl = 3600) {
  return {{"userId", "alice"}, {"name", "Alice"}, {"iat", now_s}, {"exp", now_s + ttl}};
}

jwt_options hs_options() {
  jwt_options o;
  o.secret = secret;
  o.leeway = 0s;
  return o;
}
jwt_options rs_options() {
  jwt_options o;
  o.alg = algorithm::rs256;
  o.public_key_pem = rsa_keys().public_pem;
  o.leeway = 0s;
  return o;
}
jwt_options es_options() {
  jwt_options o;
  o.alg = algorithm::es256;
  o.public_key_pem = ec_keys().public_pem;
  o.leeway = 0s;
  return o;
}

std::error_code invalid = make_error_code(auth_error::invalid_token);
std::error_code expired = make_error_code(auth_error::token_expired);

std::error_code error_of(const jwt_verifier& v, const std::string& token) {
  auto r = v.verify(token, now);
  return r ? std::error_code{} : r.error();
}

// The message of the invalid_argument thrown by f.
template <class F>
std::string thrown(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

// ---------------------------------------------------------------------------- messages

TEST(AuthErrors, MessagesAreTheContractsStrings) {
  EXPECT_EQ(make_error_code(auth_error::no_token).message(), "Authentication error: No token provided");
  EXPECT_EQ(make_error_code(auth_error::invalid_token).message(), "Authentication error: Invalid token");
  EXPECT_EQ(make_error_code(auth_error::token_expired).message(), "Authentication error: Token expired");
  EXPECT_EQ(make_error_code(auth_error::no_token).category(), parley::auth::auth_category());
  std::error_code ec = auth_error::invalid_token;  // is_error_code_enum
  EXPECT_EQ(ec, invalid);
}

TEST(AuthAlgorithm, NamesRoundTrip) {
  EXPECT_EQ(parley::auth::to_string(algorithm::hs256), "HS256");
  EXPECT_EQ(parley::auth::to_string(algorithm::rs256), "RS256");
  EXPECT_EQ(parley::auth::to_string(algorithm::es256), "ES256");
  EXPECT_EQ(parley::auth::parse_algorithm("es256"), algorithm::es256);
  EXPECT_EQ(parley::auth::parse_algorithm("RS256"), algorithm::rs256);
  EXPECT_FALSE(parley::auth::parse_algorithm("none"));
  EXPECT_FALSE(parley::auth::parse_algorithm("HS512"));
  EXPECT_FALSE(parley::auth::parse_algorithm(""));
}

// ---------------------------------------------------------------------------- valid tokens

TEST(JwtVerify, ValidHs256) {
  jwt_verifier v(hs_options());
  auto r = v.verify(make_token(alice()), now);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->user_id, "alice");
  EXPECT_EQ(r->name, "Alice");
}

TEST(JwtVerify, ValidWithoutTimesOrTyp) {
  jwt_verifier v(hs_options());
  EXPECT_TRUE(v.verify(make_token_raw(R"({"alg":"HS256"})", R"({"sub":"bob"})"), now));
  EXPECT_TRUE(v.verify(make_token_raw(R"({"alg":"HS256","typ":"jwt"})", R"({"sub":"bob"})"), now));
}

TEST(JwtVerify, ValidRs256) {
  jwt_verifier v(rs_options());
  auto r = v.verify(make_token(alice(), {.alg = "RS256", .pem_key = rsa_keys().key.get()}), now);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->user_id, "alice");
}

TEST(JwtVerify, ValidEs256) {
  jwt_verifier v(es_options());
  auto r = v.verify(make_token(alice(), {.alg = "ES256", .pem_key = ec_keys().key.get()}), now);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->user_id, "alice");
}

TEST(JwtVerify, WrongKeyPairIsInvalid) {
  jwt_verifier rs(rs_options());
  EXPECT_EQ(error_of(rs, make_token(alice(), {.alg = "RS256", .pem_key = rsa_keys_other().key.get()})), invalid);
  jwt_verifier es(es_options());
  EXPECT_EQ(error_of(es, make_token(alice(), {.alg = "ES256", .pem_key = ec_keys_other().key.get()})), invalid);
}

TEST(JwtVerify, WrongSecretIsInvalid) {
  jwt_verifier v(hs_options());
  EXPECT_EQ(error_of(v, make_token(alice(), {.hs_key = "another-secret"})), invalid);
  EXPECT_EQ(error_of(v, make_token(alice(), {.hs_key = secret + "x"})), invalid);
  EXPECT_EQ(error_of(v, make_token(alice(), {.hs_key = ""})), invalid);
}

TEST(JwtVerify, TamperedPayloadOrSignatureIsInvalid) {
  jwt_verifier v(hs_options());
  auto good = make_token(alice());
  auto dot1 = good.find('.'), dot2 = good.rfind('.');
  auto forged = good.substr(0, dot1 + 1) + b64url(R"({"userId":"admin","exp":9999999999})") + good.substr(dot2);
  EXPECT_EQ(error_of(v, forged), invalid);
  auto flipped = good;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(error_of(v, flipped), invalid);
  EXPECT_EQ(error_of(v, good.substr(0, good.size() - 2)), invalid);  // truncated signature
  EXPECT_EQ(error_of(v, good + "AA"), invalid);                      // extended signature
}

// ---------------------------------------------------------------------------- algorithms

TEST(JwtVerify, AlgNoneIsRefused) {
  jwt_verifier v(hs_options());
  auto claims = json::serialize(alice());
  for (auto alg : {"none", "None", "NONE", "nOnE"}) {
    auto head = std::string(R"({"alg":")") + alg + R"(","typ":"JWT"})";
    auto unsigned_token = b64url(head) + "." + b64url(claims) + ".";
    EXPECT_EQ(error_of(v, unsigned_token), invalid) << alg;
    // ... even when a (valid HS256) signature is attached
    EXPECT_EQ(error_of(v, make_token_raw(head, claims)), invalid) << alg;
  }
  // No alg at all, or not a string.
  EXPECT_EQ(error_of(v, make_token_raw(R"({"typ":"JWT"})", claims)), invalid);
  EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":null})", claims)), invalid);
  EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":["HS256"]})", claims)), invalid);
  EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":"hs256"})", claims)), invalid);  // names are case-sensitive
}

TEST(JwtVerify, OnlyTheConfiguredAlgorithm) {
  jwt_verifier hs(hs_options());
  jwt_verifier rs(rs_options());
  jwt_verifier es(es_options());
  auto rs_token = make_token(alice(), {.alg = "RS256", .pem_key = rsa_keys().key.get()});
  auto es_token = make_token(alice(), {.alg = "ES256", .pem_key = ec_keys().key.get()});
  auto hs_token = make_token(alice());
  EXPECT_EQ(error_of(hs, rs_token), invalid);
  EXPECT_EQ(error_of(hs, es_token), invalid);
  EXPECT_EQ(error_of(rs, hs_token), invalid);
  EXPECT_EQ(error_of(rs, es_token), invalid);
  EXPECT_EQ(error_of(es, hs_token), invalid);
  EXPECT_EQ(error_of(es, rs_token), invalid);
  // Algorithms libjwt knows but nobody configured.
  for (auto alg : {"HS384", "HS512", "RS384", "RS512", "ES384", "ES512", "PS256", "EdDSA"})
    EXPECT_EQ(error_of(hs, make_token(alice(), {}, {{"alg", alg}})), invalid) << alg;
}

TEST(JwtVerify, AlgorithmConfusionWithThePublicKeyAsHmacSecret) {
  // The classic attack: the RS256 public key is public, so an attacker HMACs a token with it and
  // says alg HS256; a verifier that lets the token pick the algorithm accepts it.
  for (const auto* kp : {&rsa_keys(), &ec_keys()}) {
    auto opts = kp == &rsa_keys() ? rs_options() : es_options();
    jwt_verifier v(opts);
    for (const auto& key : {kp->public_pem, v.options().public_key_pem, opts.public_key_pem + "\n"}) {
      auto forged = make_token(alice(), {.alg = "HS256", .hs_key = key});
      EXPECT_EQ(error_of(v, forged), invalid);
      // ... and with the header saying the configured algorithm but an HMAC as the signature.
      auto head = std::string(R"({"alg":")") + std::string(parley::auth::to_string(opts.alg)) + R"(","typ":"JWT"})";
      EXPECT_EQ(error_of(v, make_token_raw(head, json::serialize(alice()), {.alg = "HS256", .hs_key = key})), invalid);
    }
  }
}

TEST(JwtVerify, DuplicateAlgCannotSmuggleAnotherAlgorithm) {
  // Whichever of the duplicates a JSON parser keeps, the token is refused.
  jwt_verifier v(rs_options());
  auto claims = json::serialize(alice());
  for (auto head : {R"({"alg":"RS256","alg":"HS256"})", R"({"alg":"HS256","alg":"RS256"})",
                    R"({"alg":"RS256","alg":"none"})", R"({"alg":"none","alg":"RS256"})"}) {
    for (const auto& key : {rsa_keys().public_pem, v.options().public_key_pem})
      EXPECT_EQ(error_of(v, make_token_raw(head, claims, {.alg = "HS256", .hs_key = key})), invalid) << head;
    EXPECT_EQ(error_of(v, b64url(head) + "." + b64url(claims) + "."), invalid) << head;
  }
}

TEST(JwtVerify, HeaderChecks) {
  jwt_verifier v(hs_options());
  auto claims = json::serialize(alice());
  EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":"HS256","typ":"JWS"})", claims)), invalid);
  EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":"HS256","typ":1})", claims)), invalid);
  EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":"HS256","crit":["exp"],"exp":1})", claims)), invalid);
  EXPECT_EQ(error_of(v, make_token_raw(R"(["HS256"])", claims)), invalid);
  EXPECT_EQ(error_of(v, make_token_raw(R"("HS256")", claims)), invalid);
  EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":"HS256")", claims)), invalid);
}

// ---------------------------------------------------------------------------- times

TEST(JwtVerify, ExpiredWithAndWithoutLeeway) {
  auto opts = hs_options();
  jwt_verifier strict(opts);
  opts.leeway = 30s;
  jwt_verifier lenient(opts);
  auto expired_10s_ago = make_token(alice(-10));
  EXPECT_EQ(error_of(strict, expired_10s_ago), expired);
  EXPECT_TRUE(lenient.verify(expired_10s_ago, now));
  EXPECT_EQ(error_of(lenient, make_token(alice(-30))), expired);  // exp + leeway == now: expired
  EXPECT_TRUE(lenient.verify(make_token(alice(-29)), now));
  EXPECT_EQ(error_of(strict, make_token(alice(0))), expired);  // exp == now: expired (RFC 7519 §4.1.4)
  EXPECT_TRUE(strict.verify(make_token(alice(1)), now));
  // The default leeway is 30 s.
  EXPECT_EQ(jwt_options{}.leeway, 30s);
}

TEST(JwtVerify, ExpiryIsCheckedAgainstTheGivenTime) {
  jwt_verifier v(hs_options());
  auto token = make_token(alice(60));
  EXPECT_TRUE(v.verify(token, now + 59s));
  EXPECT_EQ(v.verify(token, now + 60s).error(), expired);
}

TEST(JwtVerify, NotBefore) {
  auto opts = hs_options();
  jwt_verifier strict(opts);
  opts.leeway = 30s;
  jwt_verifier lenient(opts);
  auto claims = alice();
  claims["nbf"] = now_s + 100;
  EXPECT_EQ(error_of(strict, make_token(claims)), invalid);
  EXPECT_EQ(error_of(lenient, make_token(claims)), invalid);
  claims["nbf"] = now_s + 10;
  EXPECT_EQ(error_of(strict, make_token(claims)), invalid);
  EXPECT_TRUE(lenient.verify(make_token(claims), now));
  claims["nbf"] = now_s;
  EXPECT_TRUE(strict.verify(make_token(claims), now));
}

TEST(JwtVerify, TimesMustBeNumbers) {
  jwt_verifier v(hs_options());
  for (auto name : {"exp", "nbf", "iat"}) {
    for (json::value bad : {json::value("1900000000"), json::value(true), json::value(nullptr), json::value(json::array{1})}) {
      auto claims = json::object{{"sub", "bob"}};
      claims[name] = bad;
      EXPECT_EQ(error_of(v, make_token(claims)), invalid) << name << " = " << json::serialize(bad);
    }
  }
  // Fractional NumericDates are numbers too.
  EXPECT_TRUE(v.verify(make_token({{"sub", "bob"}, {"exp", double(now_s) + 0.5}}), now));
  EXPECT_EQ(error_of(v, make_token({{"sub", "bob"}, {"exp", double(now_s) - 0.5}})), expired);
  // Huge numbers do not overflow into the past. (Integers beyond int64 are refused: libjwt's JSON
  // parser does not take them.)
  EXPECT_TRUE(v.verify(make_token_raw(R"({"alg":"HS256"})", R"({"sub":"bob","exp":9223372036854775807})"), now));
  EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":"HS256"})", R"({"sub":"bob","exp":18446744073709551615})")), invalid);
  EXPECT_TRUE(v.verify(make_token_raw(R"({"alg":"HS256"})", R"({"sub":"bob","exp":1e300})"), now));
  EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":"HS256"})", R"({"sub":"bob","exp":-1e300})")), expired);
}

TEST(JwtVerify, ExpiredButOtherwiseInvalidIsInvalid) {
  auto opts = hs_options();
  opts.audience = "parley";
  jwt_verifier v(opts);
  auto claims = alice(-100);
  claims["aud"] = "someone-else";
  EXPECT_EQ(error_of(v, make_token(claims)), invalid);
  EXPECT_EQ(error_of(v, make_token(alice(-100), {.hs_key = "wrong"})), invalid);
}

// ---------------------------------------------------------------------------- iss / aud

TEST(JwtVerify, IssuerWhenConfigured) {
  auto opts = hs_options();
  opts.issuer = "https://auth.example.com";
  jwt_verifier v(opts);
  auto claims = alice();
  EXPECT_EQ(error_of(v, make_token(claims)), invalid);  // missing
  claims["iss"] = "https://evil.example.com";
  EXPECT_EQ(error_of(v, make_token(claims)), invalid);
  claims["iss"] = json::array{"https://auth.example.com"};
  EXPECT_EQ(error_of(v, make_token(claims)), invalid);
  claims["iss"] = "https://auth.example.com";
  EXPECT_TRUE(v.verify(make_token(claims), now));
  // Not configured: not checked.
  EXPECT_TRUE(jwt_verifier(hs_options()).verify(make_token(claims), now));
}

TEST(JwtVerify, AudienceStringOrArray) {
  auto opts = hs_options();
  opts.audience = "parley";
  jwt_verifier v(opts);
  auto claims = alice();
  EXPECT_EQ(error_of(v, make_token(claims)), invalid);  // missing
  claims["aud"] = "other";
  EXPECT_EQ(error_of(v, make_token(claims)), invalid);
  claims["aud"] = "parley";
  EXPECT_TRUE(v.verify(make_token(claims), now));
  claims["aud"] = json::array{"other", "parley"};
  EXPECT_TRUE(v.verify(make_token(claims), now));
  claims["aud"] = json::array{"other", "parley-staging"};
  EXPECT_EQ(error_of(v, make_token(claims)), invalid);
  claims["aud"] = json::array{};
  EXPECT_EQ(error_of(v, make_token(claims)), invalid);
  claims["aud"] = json::array{1, nullptr, json::array{"parley"}};
  EXPECT_EQ(error_of(v, make_token(claims)), invalid);
  claims["aud"] = json::object{{"parley", true}};
  EXPECT_EQ(error_of(v, make_token(claims)), invalid);
  // Not configured: any aud is fine.
  EXPECT_TRUE(jwt_verifier(hs_options()).verify(make_token(claims), now));
}

// ---------------------------------------------------------------------------- identity claims

TEST(JwtVerify, UserIdElseSub) {
  jwt_verifier v(hs_options());
  auto r = v.verify(make_token({{"sub", "bob"}}), now);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user_id, "bob");
  EXPECT_EQ(r->name, "bob");  // name defaults to the user id

  r = v.verify(make_token({{"userId", "carol"}, {"sub", "bob"}}), now);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user_id, "carol");  // userId wins

  r = v.verify(make_token({{"userId", ""}, {"sub", "bob"}}), now);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user_id, "bob");
  r = v.verify(make_token({{"userId", nullptr}, {"sub", "bob"}}), now);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user_id, "bob");
}

TEST(JwtVerify, MissingOrBadUserIdIsInvalid) {
  jwt_verifier v(hs_options());
  EXPECT_EQ(error_of(v, make_token({{"name", "Nobody"}, {"exp", now_s + 60}})), invalid);
  EXPECT_EQ(error_of(v, make_token(json::object{})), invalid);
  EXPECT_EQ(error_of(v, make_token({{"sub", ""}})), invalid);
  EXPECT_EQ(error_of(v, make_token({{"userId", ""}, {"sub", ""}})), invalid);
  EXPECT_EQ(error_of(v, make_token({{"sub", 42}})), invalid);
  EXPECT_EQ(error_of(v, make_token({{"userId", 42}})), invalid);
  EXPECT_EQ(error_of(v, make_token({{"userId", 42}, {"sub", "bob"}})), invalid);  // no silent fallback
  EXPECT_EQ(error_of(v, make_token({{"userId", json::array{"a"}}})), invalid);
  EXPECT_EQ(error_of(v, make_token({{"userId", json::object{{"id", "a"}}}})), invalid);
}

TEST(JwtVerify, NameIsOptional) {
  jwt_verifier v(hs_options());
  auto r = v.verify(make_token({{"userId", "dave"}, {"name", ""}}), now);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "dave");
  r = v.verify(make_token({{"userId", "dave"}, {"name", nullptr}}), now);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "dave");
  r = v.verify(make_token({{"userId", "dave"}, {"name", "Dave \xc3\xa9"}}), now);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "Dave \xc3\xa9");
  EXPECT_EQ(error_of(v, make_token({{"userId", "dave"}, {"name", 7}})), invalid);
}

// ---------------------------------------------------------------------------- malformed

TEST(JwtVerify, MalformedTokens) {
  jwt_verifier v(hs_options());
  const auto good = make_token(alice());
  const auto dot1 = good.find('.'), dot2 = good.rfind('.');
  const std::string head = good.substr(0, dot1), body = good.substr(dot1 + 1, dot2 - dot1 - 1),
                    sig = good.substr(dot2 + 1);
  const std::vector<std::string> bad = {
      "x", "abc", ".", "..", "...", "a.b", "a.b.c", "a.b.c.d", head, head + "." + body, head + "." + body + ".",
      head + "." + body + "." + sig + ".", head + ".." + sig, "." + body + "." + sig, head + "." + body + "." + sig + "." + sig,
      "Bearer " + good, good + " ", " " + good, good + "\n",
      head + "=." + body + "." + sig,                  // padding
      head + "." + body + "." + sig + "=",             // padding on the signature
      head + "." + body + "+." + sig,                  // base64 (not url) alphabet
      head + "." + body + "/" + "." + sig,
      head + "." + body + "." + sig.substr(0, 5) + "*" + sig.substr(6),
      std::string("\0", 1) + good,
      good.substr(0, 10) + std::string("\0", 1) + good.substr(10),
      head + "." + b64url("not json") + "." + sig,
      head + "." + b64url("[1,2]") + "." + sig,
      head + "." + b64url("null") + "." + sig,
      head + "." + b64url("\"alice\"") + "." + sig,
      b64url("{}") + "." + body + "." + sig,
      "eyJhbGciOiJIUzI1NiJ9.eyJ.sig",
      std::string(20'000, 'a') + "." + body + "." + sig,  // over the size bound
      "\xff\xfe.\xff.\xff",
  };
  for (const auto& t : bad) EXPECT_EQ(error_of(v, t), invalid) << t.substr(0, 80);
  // A well-formed token whose payload has an extra, unsigned JSON value appended.
  EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":"HS256"})", R"({"sub":"bob"}{"sub":"admin"})")), invalid);
  // Every signed token that is not JSON-object claims is refused too, even correctly signed.
  for (auto payload : {"not json", "[]", "null", "1", "\"bob\"", "{\"sub\":\"bob\"", ""})
    EXPECT_EQ(error_of(v, make_token_raw(R"({"alg":"HS256","typ":"JWT"})", payload)), invalid) << payload;
}

TEST(JwtVerify, NonCanonicalBase64IsInvalid) {
  jwt_verifier v(hs_options());
  // "e30" is "{}"; "e31" decodes to the same bytes with a stray low bit set.
  auto sig = b64url(hmac256(secret, "eyJhbGciOiJIUzI1NiJ9.e31"));
  EXPECT_EQ(error_of(v, "eyJhbGciOiJIUzI1NiJ9.e31." + sig), invalid);
}

TEST(JwtVerify, EmptyTokenIsNoToken) {
  jwt_verifier v(hs_options());
  EXPECT_EQ(error_of(v, ""), make_error_code(auth_error::no_token));
}

TEST(JwtVerify, ReasonForTheLog) {
  jwt_verifier v(hs_options());
  std::string why;
  EXPECT_FALSE(v.verify(make_token(alice(), {.hs_key = "x"}), now, why));
  EXPECT_EQ(why, "bad signature");
  EXPECT_FALSE(v.verify(make_token(alice(), {}, {{"alg", "none"}}), now, why));
  EXPECT_NE(why.find("alg none refused"), std::string::npos) << why;
  EXPECT_FALSE(v.verify(make_token(alice(-5)), now, why));
  EXPECT_EQ(why, "expired");
}

// Development-login tokens (claim devLogin: true) must not outlive the development login.
TEST(JwtVerify, DevLoginTokensOnlyWhileDevLoginIsOn) {
  auto on = hs_options();
  on.accept_dev_login_tokens = true;
  const jwt_verifier with_dev_login(on), without_dev_login(hs_options());
  auto dev = alice();
  dev["devLogin"] = true;
  ASSERT_TRUE(with_dev_login.verify(make_token(dev), now));
  std::string why;
  auto refused = without_dev_login.verify(make_token(dev), now, why);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), invalid);  // "Authentication error: Invalid token", as the contract says
  EXPECT_NE(why.find("development-login token"), std::string::npos) << why;
  // Expired as well: still a development token, and refused as one.
  auto old = alice(-5);
  old["devLogin"] = true;
  EXPECT_EQ(error_of(without_dev_login, make_token(old)), invalid);
  // Any other token is unaffected; a devLogin that is no boolean is no token of ours.
  auto plain = alice();
  plain["devLogin"] = false;
  EXPECT_TRUE(without_dev_login.verify(make_token(plain), now));
  EXPECT_TRUE(without_dev_login.verify(make_token(alice()), now));
  for (json::value odd : {json::value("true"), json::value(1), json::value(json::object{})}) {
    auto c = alice();
    c["devLogin"] = odd;
    EXPECT_EQ(error_of(with_dev_login, make_token(c)), invalid) << json::serialize(odd);
  }
}

// ---------------------------------------------------------------------------- signing

TEST(JwtSign, Hs256MatchesAnIndependentHmac) {
  auto opts = hs_options();
  opts.issuer = "parley";
  opts.audience = "chat";
  jwt_verifier v(opts);
  auto token = v.sign({"alice", "Alice"}, 1h, now);
  auto dot2 = token.rfind('.');
  EXPECT_EQ(token.substr(dot2 + 1), b64url(hmac256(secret, token.substr(0, dot2))));
  EXPECT_EQ(header_of(token).at("alg"), "HS256");
  auto c = claims_of(token);
  EXPECT_EQ(c.at("userId"), "alice");
  EXPECT_EQ(c.at("sub"), "alice");
  EXPECT_EQ(c.at("name"), "Alice");
  EXPECT_EQ(c.at("iat").to_number<std::int64_t>(), now_s);
  EXPECT_EQ(c.at("exp").to_number<std::int64_t>(), now_s + 3600);
  EXPECT_EQ(c.at("iss"), "parley");
  EXPECT_EQ(c.at("aud"), "chat");
  auto r = v.verify(token, now + 10min);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user_id, "alice");
  EXPECT_EQ(v.verify(token, now + 1h).error(), expired);
}

TEST(JwtSign, DevLoginTokensAreMarked) {
  auto on = hs_options();
  on.accept_dev_login_tokens = true;
  const jwt_verifier with_dev_login(on), without_dev_login(hs_options());
  auto token = with_dev_login.sign_dev_login({"alice", "Alice"}, 1h, now);
  EXPECT_EQ(claims_of(token).at("devLogin"), true);
  EXPECT_TRUE(with_dev_login.verify(token, now));
  EXPECT_EQ(error_of(without_dev_login, token), invalid);
  // `parley token` and other signers make ordinary tokens.
  auto ordinary = with_dev_login.sign({"alice", "Alice"}, 1h, now);
  EXPECT_FALSE(claims_of(ordinary).contains("devLogin"));
  EXPECT_TRUE(without_dev_login.verify(ordinary, now));
}

TEST(JwtSign, NameDefaultsToTheUserId) {
  jwt_verifier v(hs_options());
  auto token = v.sign({"bob", ""}, 60s, now);
  EXPECT_EQ(claims_of(token).at("name"), "bob");
  EXPECT_FALSE(claims_of(token).contains("iss"));
  EXPECT_FALSE(claims_of(token).contains("aud"));
  EXPECT_THROW(v.sign({"", "x"}, 60s, now), std::invalid_argument);
}

TEST(JwtSign, Rs256AndEs256RoundTrip) {
  for (auto* kp : {&rsa_keys(), &ec_keys()}) {
    auto opts = kp == &rsa_keys() ? rs_options() : es_options();
    opts.private_key_pem = kp->private_pem;
    jwt_verifier v(opts);
    auto token = v.sign({"erin", "Erin"}, 1h, now);
    EXPECT_EQ(header_of(token).at("alg").as_string(), parley::auth::to_string(opts.alg));
    auto r = v.verify(token, now);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->user_id, "erin");
    EXPECT_EQ(r->name, "Erin");
    // A verifier with the public key alone accepts it; one with another key does not.
    opts.private_key_pem.clear();
    EXPECT_TRUE(jwt_verifier(opts).verify(token, now));
    opts.public_key_pem = kp == &rsa_keys() ? rsa_keys_other().public_pem : ec_keys_other().public_pem;
    EXPECT_EQ(error_of(jwt_verifier(opts), token), invalid);
  }
}

TEST(JwtSign, Es256SignatureIsJoseFormat) {
  auto opts = es_options();
  opts.private_key_pem = ec_keys().private_pem;
  auto token = jwt_verifier(opts).sign({"erin", ""}, 1h, now);
  EXPECT_EQ(b64url_decode(token.substr(token.rfind('.') + 1)).size(), 64u);  // R||S, not DER
}

TEST(JwtSign, PublicKeyDerivedFromThePrivateKey) {
  jwt_options opts;
  opts.alg = algorithm::rs256;
  opts.private_key_pem = rsa_keys().private_pem;
  jwt_verifier v(opts);
  EXPECT_EQ(v.options().public_key_pem, rsa_keys().public_pem);
  EXPECT_TRUE(v.verify(v.sign({"a", ""}, 1h, now), now));
}

TEST(JwtSign, NeedsThePrivateKey) {
  jwt_verifier v(rs_options());
  EXPECT_NE(thrown([&] { v.sign({"a", ""}, 1h, now); }).find("jwt-private-key"), std::string::npos);
}

// ---------------------------------------------------------------------------- key problems

TEST(JwtKeys, ProblemsNameTheOption) {
  auto name_in = [](jwt_options o, const std::string& option) {
    auto msg = thrown([&] { jwt_verifier v(std::move(o)); });
    EXPECT_EQ(msg.rfind(option + ": ", 0), 0u) << msg;
  };
  jwt_options o;  // HS256 without a secret
  name_in(o, "jwt-secret");

  o = rs_options();
  o.public_key_pem.clear();
  name_in(o, "jwt-public-key");
  o.public_key_pem = "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n";
  name_in(o, "jwt-public-key");
  o.public_key_pem = "hello";
  name_in(o, "jwt-public-key");
  o.public_key_pem = ec_keys().public_pem;  // EC key for RS256
  name_in(o, "jwt-public-key");
  o.public_key_pem = make_keys(pkey_ptr(EVP_RSA_gen(1024))).public_pem;  // too short
  name_in(o, "jwt-public-key");

  o = es_options();
  o.public_key_pem = rsa_keys().public_pem;  // RSA key for ES256
  name_in(o, "jwt-public-key");
  o.public_key_pem = make_keys(pkey_ptr(EVP_EC_gen("P-384"))).public_pem;  // wrong curve
  name_in(o, "jwt-public-key");

  o = rs_options();
  o.private_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  name_in(o, "jwt-private-key");
  o.private_key_pem = rsa_keys_other().private_pem;  // not the public key's pair
  name_in(o, "jwt-private-key");
  o.private_key_pem = ec_keys().private_pem;
  name_in(o, "jwt-private-key");

  o = hs_options();
  o.leeway = -1s;
  name_in(o, "jwt-leeway-s");
}

TEST(JwtKeys, EncryptedPrivateKeyIsRefusedWithoutPrompting) {
  BIO* bio = BIO_new(BIO_s_mem());
  const char pass[] = "passphrase";
  PEM_write_bio_PKCS8PrivateKey(bio, rsa_keys().key.get(), EVP_aes_256_cbc(), pass, int(sizeof pass - 1), nullptr, nullptr);
  auto opts = rs_options();
  opts.private_key_pem = bio_text(bio);
  auto msg = thrown([&] { jwt_verifier v(opts); });
  EXPECT_EQ(msg.rfind("jwt-private-key: ", 0), 0u) << msg;
}

TEST(JwtKeys, CertificateAsPublicKey) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, rsa_keys().key.get());
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("parley"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, rsa_keys().key.get(), EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  X509_free(cert);
  auto opts = rs_options();
  opts.public_key_pem = bio_text(bio);
  jwt_verifier v(opts);
  EXPECT_EQ(v.options().public_key_pem, rsa_keys().public_pem);
  EXPECT_TRUE(v.verify(make_token(alice(), {.alg = "RS256", .pem_key = rsa_keys().key.get()}), now));
}

TEST(JwtKeys, Pkcs1RsaPublicKey) {
  BIO* bio = BIO_new(BIO_s_mem());
  OSSL_ENCODER_CTX* ectx =
      OSSL_ENCODER_CTX_new_for_pkey(rsa_keys().key.get(), EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", nullptr);
  ASSERT_TRUE(ectx);
  ASSERT_EQ(OSSL_ENCODER_to_bio(ectx, bio), 1);
  OSSL_ENCODER_CTX_free(ectx);
  auto opts = rs_options();
  opts.public_key_pem = bio_text(bio);
  ASSERT_NE(opts.public_key_pem.find("BEGIN RSA PUBLIC KEY"), std::string::npos);
  jwt_verifier v(opts);
  EXPECT_TRUE(v.verify(make_token(alice(), {.alg = "RS256", .pem_key = rsa_keys().key.get()}), now));
}

// ---------------------------------------------------------------------------- token_from_handshake

TEST(TokenFromHandshake, Precedence) {
  using parley::auth::token_from_handshake;
  sio::handshake hs;
  EXPECT_FALSE(token_from_handshake(hs));

  hs.query.emplace("token", "from-query");
  EXPECT_EQ(token_from_handshake(hs), "from-query");

  hs.headers.emplace("authorization", "Bearer from-header");
  EXPECT_EQ(token_from_handshake(hs), "from-header");

  hs.auth["token"] = "from-auth";
  EXPECT_EQ(token_from_handshake(hs), "from-auth");  // the auth payload wins
}

TEST(TokenFromHandshake, AuthorizationHeaderForms) {
  using parley::auth::token_from_handshake;
  auto with = [](std::string value) {
    sio::handshake hs;
    hs.headers.emplace("authorization", std::move(value));
    return token_from_handshake(hs);
  };
  EXPECT_EQ(with("Bearer abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(with("bearer abc"), "abc");
  EXPECT_EQ(with("BEARER   abc  "), "abc");
  EXPECT_FALSE(with("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(with("Bearer"));
  EXPECT_FALSE(with("Bearer   "));
  EXPECT_FALSE(with("Bearerabc"));
  EXPECT_FALSE(with("abc.def.ghi"));
  // A non-Bearer header falls through to the query.
  sio::handshake hs;
  hs.headers.emplace("authorization", "Basic xyz");
  hs.query.emplace("token", "q");
  EXPECT_EQ(token_from_handshake(hs), "q");
}

TEST(TokenFromHandshake, EmptyOrOddAuthTokens) {
  using parley::auth::token_from_handshake;
  sio::handshake hs;
  hs.query.emplace("token", "q");
  hs.auth["token"] = "";
  EXPECT_EQ(token_from_handshake(hs), "q");  // an empty token counts as none
  hs.auth["token"] = nullptr;
  EXPECT_EQ(token_from_handshake(hs), "q");
  hs.auth["token"] = 42;  // provided, but not a JWT: passed on so that it is refused as invalid
  auto t = token_from_handshake(hs);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, "42");
  EXPECT_EQ(error_of(jwt_verifier(hs_options()), *t), invalid);
  hs.auth["token"] = json::object{{"jwt", "x"}};
  EXPECT_EQ(error_of(jwt_verifier(hs_options()), *token_from_handshake(hs)), invalid);

  sio::handshake empty_query;
  empty_query.query.emplace("token", "");
  EXPECT_FALSE(token_from_handshake(empty_query));
}

// ---------------------------------------------------------------------------- the guard, end to end

namespace {

struct guarded_server {
  sio::server io;
  std::shared_ptr<sio::socket> admitted;
  explicit guarded_server(jwt_options opts = hs_options()) : io(sio::server_options{}) {
    opts.leeway = 0s;
    io.use(parley::auth::make_guard(std::make_shared<const jwt_verifier>(std::move(opts))));
    io.on_connection([this](const std::shared_ptr<sio::socket>& s) { admitted = s; });
  }
  // Opens a session, sends CONNECT with `auth` and returns what the server answered.
  std::vector<std::string> connect(const std::string& auth, std::function<void(sio::eio::handshake_request&)> tweak = {}) {
    auto s = std::make_shared<sio::test::fake_session>("eio", &io.engine_handler());
    if (tweak) tweak(s->mutable_request());
    io.engine_handler().on_open(s);
    io.engine_handler().on_message(*s, "0" + auth);
    s->run();
    sessions.push_back(s);
    return s->take_texts();
  }
  std::vector<std::shared_ptr<sio::test::fake_session>> sessions;
};

std::string refusal(std::string_view message) {
  return std::string(R"(4{"message":")") + std::string(message) + R"("})";
}

std::string real_token(std::int64_t ttl = 3600) {
  auto n = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return make_token({{"userId", "alice"}, {"name", "Alice"}, {"iat", n}, {"exp", n + ttl}});
}

}  // namespace

TEST(Guard, NoTokenIsRefused) {
  guarded_server g;
  EXPECT_EQ(g.connect(""), std::vector<std::string>{refusal("Authentication error: No token provided")});
  EXPECT_EQ(g.connect(R"({"token":""})"), std::vector<std::string>{refusal("Authentication error: No token provided")});
  EXPECT_EQ(g.connect(R"({"other":"x"})"), std::vector<std::string>{refusal("Authentication error: No token provided")});
  EXPECT_FALSE(g.admitted);
}

TEST(Guard, BadTokenIsRefused) {
  guarded_server g;
  EXPECT_EQ(g.connect(R"({"token":"garbage"})"), std::vector<std::string>{refusal("Authentication error: Invalid token")});
  EXPECT_EQ(g.connect(R"({"token":12})"), std::vector<std::string>{refusal("Authentication error: Invalid token")});
  auto forged = make_token(alice(), {.hs_key = "not-the-secret"});
  EXPECT_EQ(g.connect(R"({"token":")" + forged + R"("})"),
            std::vector<std::string>{refusal("Authentication error: Invalid token")});
  EXPECT_FALSE(g.admitted);
}

TEST(Guard, ExpiredTokenIsRefused) {
  guarded_server g;
  EXPECT_EQ(g.connect(R"({"token":")" + real_token(-60) + R"("})"),
            std::vector<std::string>{refusal("Authentication error: Token expired")});
  EXPECT_FALSE(g.admitted);
}

TEST(Guard, ValidTokenIsAdmittedWithItsIdentity) {
  guarded_server g;
  auto texts = g.connect(R"({"token":")" + real_token() + R"("})");
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(texts[0].rfind("0{\"sid\":", 0), 0u) << texts[0];
  ASSERT_TRUE(g.admitted);
  EXPECT_EQ(g.admitted->data, (json::object{{"userId", "alice"}, {"name", "Alice"}}));
}

TEST(Guard, TokenFromHeaderOrQuery) {
  {
    guarded_server g;
    auto texts = g.connect("", [](auto& req) { req.headers.emplace("authorization", "Bearer " + real_token()); });
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_EQ(texts[0].rfind("0{\"sid\":", 0), 0u) << texts[0];
    EXPECT_TRUE(g.admitted);
  }
  {
    guarded_server g;
    auto texts = g.connect("", [](auto& req) { req.query.emplace("token", real_token()); });
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_EQ(texts[0].rfind("0{\"sid\":", 0), 0u) << texts[0];
    EXPECT_TRUE(g.admitted);
  }
  {
    // The auth payload wins, even when the header's token would have been good.
    guarded_server g;
    auto texts = g.connect(R"({"token":"bad"})", [](auto& req) { req.headers.emplace("authorization", "Bearer " + real_token()); });
    EXPECT_EQ(texts, std::vector<std::string>{refusal("Authentication error: Invalid token")});
    EXPECT_FALSE(g.admitted);
  }
}
