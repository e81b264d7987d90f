// The setup: defaults < TOML file < PARLEY_* environment < flags, and fail-fast validation.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "parley/config/config.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using parley::command_line;
using parley::config_error;
using parley::environment;

namespace {

// A scratch directory per test, removed afterwards.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> n{0};
    dir_ = fs::temp_directory_path() / ("parley-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string file(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string missing(const std::string& name) { return (dir_ / name).string(); }

  fs::path dir_;
};

command_line parse(std::vector<std::string> args, const environment& env = {}) {
  std::vector<const char*> argv{"parley"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return parley::parse_command_line(static_cast<int>(argv.size()), argv.data(), env);
}

// The config_error message, or "" when none was thrown.
std::string error(std::vector<std::string> args, const environment& env = {}) {
  try {
    parse(std::move(args), env);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

std::string pem_of(EVP_PKEY* key, bool private_key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (private_key) PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  else PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return s;
}

struct ec_pair {
  std::string public_pem, private_pem;
};
const ec_pair& ec_keys() {
  static const ec_pair k = [] {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    ec_pair p{pem_of(key, false), pem_of(key, true)};
    EVP_PKEY_free(key);
    return p;
  }();
  return k;
}

}  // namespace

// ---------------------------------------------------------------------------- defaults

TEST_F(ConfigTest, Defaults) {
  auto cl = parse({});
  EXPECT_EQ(cl.what, command_line::action::serve);
  EXPECT_TRUE(cl.warnings.empty());
  EXPECT_TRUE(cl.config_file.empty());
  const auto& c = cl.cfg;
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 3000);
  EXPECT_EQ(c.path, "/socket.io/");
  EXPECT_EQ(c.transports, (std::vector<std::string>{"polling", "websocket"}));
  EXPECT_TRUE(c.cors_origins.empty());
  EXPECT_FALSE(c.cors_credentials);
  EXPECT_EQ(c.ping_interval, 25000ms);
  EXPECT_EQ(c.ping_timeout, 20000ms);
  EXPECT_EQ(c.max_http_buffer_size, 1'000'000u);
  EXPECT_EQ(c.threads, 0u);
  EXPECT_EQ(c.jwt.alg, parley::auth::algorithm::hs256);
  EXPECT_EQ(c.jwt.secret, parley::development_jwt_secret);
  EXPECT_TRUE(c.jwt_secret_is_default);
  EXPECT_FALSE(c.jwt.issuer);
  EXPECT_FALSE(c.jwt.audience);
  EXPECT_EQ(c.jwt.leeway, 30s);
  EXPECT_EQ(c.database, "parley.db");
  EXPECT_EQ(c.upload_dir, "uploads");
  EXPECT_EQ(c.max_upload_bytes, 10u * 1024 * 1024);
  EXPECT_EQ(c.max_message_length, 4000u);
  EXPECT_EQ(c.rate_limit, 20.0);
  EXPECT_EQ(c.typing_timeout, 5000ms);
  EXPECT_FALSE(c.dev_login);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, "text");
}

// ---------------------------------------------------------------------------- the three sources

TEST_F(ConfigTest, TomlFile) {
  auto path = file("parley.toml", R"(
host = "0.0.0.0"
port = 4000
transports = ["websocket"]
cors-origins = ["https://chat.example.com", "http://localhost:5173"]
cors-credentials = true
ping-interval-ms = 10000
max_upload_bytes = 2048     # snake_case works too
rate-limit = 2.5
dev-login = true

[jwt]                        # tables prefix their keys: jwt-secret, jwt-issuer, ...
secret = "from-toml"
issuer = "https://auth.example.com"
audience = "parley"
leeway-s = 5

[log]
level = "debug"
format = "json"
)");
  auto cl = parse({"--config", path});
  EXPECT_EQ(cl.config_file, path);
  const auto& c = cl.cfg;
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 4000);
  EXPECT_EQ(c.transports, std::vector<std::string>{"websocket"});
  EXPECT_EQ(c.cors_origins, (std::vector<std::string>{"https://chat.example.com", "http://localhost:5173"}));
  EXPECT_TRUE(c.cors_credentials);
  EXPECT_EQ(c.ping_interval, 10000ms);
  EXPECT_EQ(c.max_upload_bytes, 2048u);
  EXPECT_EQ(c.rate_limit, 2.5);
  EXPECT_TRUE(c.dev_login);
  EXPECT_EQ(c.jwt.secret, "from-toml");
  EXPECT_FALSE(c.jwt_secret_is_default);
  EXPECT_EQ(c.jwt.issuer, "https://auth.example.com");
  EXPECT_EQ(c.jwt.audience, "parley");
  EXPECT_EQ(c.jwt.leeway, 5s);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.log_format, "json");
  // dev-login and a short secret are warned about.
  ASSERT_EQ(cl.warnings.size(), 2u);
  EXPECT_NE(cl.warnings[0].find("jwt-secret is shorter than 32 bytes"), std::string::npos) << cl.warnings[0];
  EXPECT_NE(cl.warnings[1].find("dev-login"), std::string::npos) << cl.warnings[1];
}

TEST_F(ConfigTest, ConfigFileFromTheEnvironment) {
  auto path = file("p.toml", "port = 4100\n");
  EXPECT_EQ(parse({}, {{"PARLEY_CONFIG", path}}).cfg.port, 4100);
  auto other = file("q.toml", "port = 4200\n");
  EXPECT_EQ(parse({"--config", other}, {{"PARLEY_CONFIG", path}}).cfg.port, 4200);  // the flag wins
}

TEST_F(ConfigTest, EnvironmentOverridesTomlAndFlagsOverrideEnvironment) {
  auto path = file("parley.toml", "port = 4000\nhost = \"0.0.0.0\"\ndatabase = \"toml.db\"\n");
  environment env{{"PARLEY_PORT", "5000"}, {"PARLEY_DATABASE", "env.db"}, {"PARLEY_JWT_SECRET", "s3cret"}};
  auto c = parse({"--config", path}, env).cfg;
  EXPECT_EQ(c.port, 5000);         // env over TOML
  EXPECT_EQ(c.host, "0.0.0.0");    // TOML over default
  EXPECT_EQ(c.database, "env.db");
  c = parse({"--config", path, "--port", "6000"}, env).cfg;
  EXPECT_EQ(c.port, 6000);         // flag over env
  EXPECT_EQ(c.database, "env.db");
  c = parse({"--port=6001", "--config", path}, env).cfg;
  EXPECT_EQ(c.port, 6001);
}

TEST_F(ConfigTest, EveryOptionFromTheEnvironment) {
  auto pub = file("ec.pub", ec_keys().public_pem);
  auto priv = file("ec.key", ec_keys().private_pem);
  environment env{
      {"PARLEY_HOST", "::"},
      {"PARLEY_PORT", "0"},
      {"PARLEY_PATH", "/chat/"},
      {"PARLEY_TRANSPORTS", "websocket, polling"},
      {"PARLEY_CORS_ORIGINS", "https://a.example.com, http://b.example.com:8080,,"},
      {"PARLEY_CORS_CREDENTIALS", "yes"},
      {"PARLEY_PING_INTERVAL_MS", "1000"},
      {"PARLEY_PING_TIMEOUT_MS", "2000"},
      {"PARLEY_MAX_HTTP_BUFFER_SIZE", "12345"},
      {"PARLEY_THREADS", "3"},
      {"PARLEY_JWT_ALGORITHM", "es256"},
      {"PARLEY_JWT_PUBLIC_KEY", pub},
      {"PARLEY_JWT_PRIVATE_KEY", priv},
      {"PARLEY_JWT_ISSUER", "iss"},
      {"PARLEY_JWT_AUDIENCE", "aud"},
      {"PARLEY_JWT_LEEWAY_S", "0"},
      {"PARLEY_DATABASE", "/var/lib/parley/db.sqlite"},
      {"PARLEY_UPLOAD_DIR", "/var/lib/parley/files"},
      {"PARLEY_MAX_UPLOAD_BYTES", "99"},
      {"PARLEY_MAX_MESSAGE_LENGTH", "10"},
      {"PARLEY_RATE_LIMIT", "0"},
      {"PARLEY_TYPING_TIMEOUT_MS", "750"},
      {"PARLEY_DEV_LOGIN", "off"},
      {"PARLEY_LOG_LEVEL", "WARN"},
      {"PARLEY_LOG_FORMAT", "json"},
  };
  auto cl = parse({}, env);
  const auto& c = cl.cfg;
  EXPECT_EQ(c.host, "::");
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.path, "/chat/");
  EXPECT_EQ(c.transports, (std::vector<std::string>{"websocket", "polling"}));
  EXPECT_EQ(c.cors_origins, (std::vector<std::string>{"https://a.example.com", "http://b.example.com:8080"}));
  EXPECT_TRUE(c.cors_credentials);
  EXPECT_EQ(c.ping_interval, 1000ms);
  EXPECT_EQ(c.ping_timeout, 2000ms);
  EXPECT_EQ(c.max_http_buffer_size, 12345u);
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.jwt.alg, parley::auth::algorithm::es256);
  EXPECT_EQ(c.jwt_public_key_file, pub);
  EXPECT_EQ(c.jwt.public_key_pem, ec_keys().public_pem);  // read at load
  EXPECT_EQ(c.jwt.private_key_pem, ec_keys().private_pem);
  EXPECT_FALSE(c.jwt_secret_is_default);
  EXPECT_EQ(c.jwt.issuer, "iss");
  EXPECT_EQ(c.jwt.audience, "aud");
  EXPECT_EQ(c.jwt.leeway, 0s);
  EXPECT_EQ(c.database, "/var/lib/parley/db.sqlite");
  EXPECT_EQ(c.upload_dir, "/var/lib/parley/files");
  EXPECT_EQ(c.max_upload_bytes, 99u);
  EXPECT_EQ(c.max_message_length, 10u);
  EXPECT_EQ(c.rate_limit, 0.0);
  EXPECT_EQ(c.typing_timeout, 750ms);
  EXPECT_FALSE(c.dev_login);
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_TRUE(cl.warnings.empty()) << cl.warnings[0];
}

TEST_F(ConfigTest, EveryOptionAsAFlag) {
  auto pub = file("ec.pub", ec_keys().public_pem);
  auto c = parse({"--host", "0.0.0.0", "--port", "1234", "--path", "/x/", "--transports", "polling",
                  "--cors-origins", "https://a.example.com", "--cors-origins", "https://b.example.com",
                  "--cors-credentials", "true", "--ping-interval-ms", "3", "--ping-timeout-ms", "4",
                  "--max-http-buffer-size", "5", "--threads", "6", "--jwt-algorithm", "ES256", "--jwt-public-key", pub,
                  "--jwt-issuer", "i", "--jwt-audience", "a", "--jwt-leeway-s", "7", "--database", "d.db",
                  "--upload-dir", "up", "--max-upload-bytes", "8", "--max-message-length", "9", "--rate-limit", "1.5",
                  "--typing-timeout-ms", "10", "--dev-login", "--log-level", "trace", "--log-format", "json"})
               .cfg;
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 1234);
  EXPECT_EQ(c.path, "/x/");
  EXPECT_EQ(c.transports, std::vector<std::string>{"polling"});
  EXPECT_EQ(c.cors_origins, (std::vector<std::string>{"https://a.example.com", "https://b.example.com"}));
  EXPECT_TRUE(c.cors_credentials);
  EXPECT_EQ(c.ping_interval, 3ms);
  EXPECT_EQ(c.ping_timeout, 4ms);
  EXPECT_EQ(c.max_http_buffer_size, 5u);
  EXPECT_EQ(c.threads, 6u);
  EXPECT_EQ(c.jwt.alg, parley::auth::algorithm::es256);
  EXPECT_EQ(c.jwt.issuer, "i");
  EXPECT_EQ(c.jwt.audience, "a");
  EXPECT_EQ(c.jwt.leeway, 7s);
  EXPECT_EQ(c.database, "d.db");
  EXPECT_EQ(c.upload_dir, "up");
  EXPECT_EQ(c.max_upload_bytes, 8u);
  EXPECT_EQ(c.max_message_length, 9u);
  EXPECT_EQ(c.rate_limit, 1.5);
  EXPECT_EQ(c.typing_timeout, 10ms);
  EXPECT_TRUE(c.dev_login);
  EXPECT_EQ(c.log_level, "trace");
  EXPECT_EQ(c.log_format, "json");
}

TEST_F(ConfigTest, BooleanForms) {
  EXPECT_TRUE(parse({"--dev-login"}).cfg.dev_login);
  EXPECT_TRUE(parse({"--dev-login", "--port", "1"}).cfg.dev_login);
  EXPECT_FALSE(parse({"--dev-login=false"}).cfg.dev_login);
  EXPECT_FALSE(parse({"--dev-login", "no"}).cfg.dev_login);
  EXPECT_TRUE(parse({"--cors-credentials", "true"}).cfg.cors_credentials);
  EXPECT_FALSE(parse({"--cors-credentials=0"}, {{"PARLEY_CORS_CREDENTIALS", "1"}}).cfg.cors_credentials);
  EXPECT_TRUE(parse({}, {{"PARLEY_DEV_LOGIN", "ON"}}).cfg.dev_login);
}

// The verifier accepts development-login tokens exactly while the development login is on.
TEST_F(ConfigTest, DevLoginTokensFollowDevLogin) {
  EXPECT_FALSE(parse({}).cfg.jwt.accept_dev_login_tokens);
  EXPECT_TRUE(parse({"--dev-login"}).cfg.jwt.accept_dev_login_tokens);
  EXPECT_TRUE(parse({}, {{"PARLEY_DEV_LOGIN", "true"}}).cfg.jwt.accept_dev_login_tokens);
  EXPECT_FALSE(parse({"--dev-login=false"}, {{"PARLEY_DEV_LOGIN", "true"}}).cfg.jwt.accept_dev_login_tokens);
}

TEST_F(ConfigTest, LastFlagWinsAndListsAccumulate) {
  EXPECT_EQ(parse({"--port", "1", "--port", "2"}).cfg.port, 2);
  EXPECT_EQ(parse({"--transports", "polling,websocket", "--transports", "polling"}).cfg.transports,
            (std::vector<std::string>{"polling", "websocket"}));  // duplicates dropped
  EXPECT_TRUE(parse({"--cors-origins", ""}, {{"PARLEY_CORS_ORIGINS", "https://x.example.com"}}).cfg.cors_origins.empty());
}

TEST_F(ConfigTest, SecretSources) {
  auto c = parse({}, {{"PARLEY_JWT_SECRET", "s3cret"}}).cfg;
  EXPECT_EQ(c.jwt.secret, "s3cret");
  EXPECT_FALSE(c.jwt_secret_is_default);
  c = parse({"--jwt-secret", "flag-secret"}, {{"PARLEY_JWT_SECRET", "s3cret"}}).cfg;
  EXPECT_EQ(c.jwt.secret, "flag-secret");
  // An empty variable counts as unset (`PARLEY_JWT_SECRET=${UNSET}` in a compose file).
  c = parse({}, {{"PARLEY_JWT_SECRET", ""}}).cfg;
  EXPECT_TRUE(c.jwt_secret_is_default);
  // Setting the development secret explicitly is still the development secret.
  EXPECT_TRUE(parse({"--jwt-secret", parley::development_jwt_secret}).cfg.jwt_secret_is_default);
}

// The development secret is public: only a server no one else can reach may use it.
TEST_F(ConfigTest, DevelopmentSecretOnlyOnLoopback) {
  auto refused = [&](std::vector<std::string> args, const environment& env) {
    auto err = error(std::move(args), env);
    EXPECT_EQ(err.rfind("--jwt-secret: ", 0), 0u) << err;
    EXPECT_NE(err.find("PARLEY_JWT_SECRET"), std::string::npos) << err;
    return err;
  };
  auto err = refused({"--host", "0.0.0.0"}, {});
  EXPECT_NE(err.find("'0.0.0.0' is not a loopback address"), std::string::npos) << err;
  refused({}, {{"PARLEY_HOST", "::"}});
  refused({"--config", file("h.toml", "host = \"192.168.1.20\"\n")}, {});
  refused({"--host", "chat.example.com"}, {});
  refused({"--host", "0.0.0.0", "--jwt-secret", parley::development_jwt_secret}, {});  // named, still public
  refused({"--host", "0.0.0.0", "--jwt-algorithm", "HS256"}, {{"PARLEY_JWT_SECRET", ""}});  // empty: unset
  // `parley token` signs for the server this configuration describes: refused alike.
  refused({"token", "--user", "a", "--host", "0.0.0.0"}, {});

  // Loopback keeps the zero-config mode (scripts/run.sh).
  for (auto host : {"127.0.0.1", "127.8.9.10", "localhost", "LocalHost", "::1", "::ffff:127.0.0.1"}) {
    auto cl = parse({"--host", host});
    EXPECT_TRUE(cl.cfg.jwt_secret_is_default) << host;
  }
  // A secret of one's own, or keys, on any address.
  EXPECT_FALSE(parse({"--host", "0.0.0.0"}, {{"PARLEY_JWT_SECRET", "s3cret"}}).cfg.jwt_secret_is_default);
  auto pub = file("ec.pub", ec_keys().public_pem);
  EXPECT_EQ(parse({"--host", "::", "--jwt-algorithm", "ES256", "--jwt-public-key", pub}).cfg.host, "::");
}

TEST(IsLoopbackHost, OnlyAddressesOfThisMachine) {
  for (auto host : {"localhost", "127.0.0.1", "127.255.255.254", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"})
    EXPECT_TRUE(parley::is_loopback_host(host)) << host;
  for (auto host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "::ffff:10.0.0.1", "::2", "example.com",
                    "localhost.example.com", "127.0.0.1.nip.io", "127.1", "2130706433", ""})
    EXPECT_FALSE(parley::is_loopback_host(host)) << host;
}

TEST_F(ConfigTest, EmptyIssuerOrAudienceMeansUnchecked) {
  auto c = parse({"--jwt-issuer", "", "--jwt-audience", " "}, {{"PARLEY_JWT_ISSUER", "x"}}).cfg;
  EXPECT_FALSE(c.jwt.issuer);
  EXPECT_FALSE(c.jwt.audience);
}

TEST_F(ConfigTest, UnknownEnvironmentVariablesAreWarnedAbout) {
  auto cl = parse({}, {{"PARLEY_JWT_SECRETT", "typo"}, {"PARLEY_PORT", "1"}, {"HOME", "/root"}});
  ASSERT_EQ(cl.warnings.size(), 1u);
  EXPECT_NE(cl.warnings[0].find("PARLEY_JWT_SECRETT"), std::string::npos) << cl.warnings[0];
  EXPECT_NE(cl.warnings[0].find("did you mean 'PARLEY_JWT_SECRET'"), std::string::npos) << cl.warnings[0];
  EXPECT_TRUE(cl.cfg.jwt_secret_is_default);
}

// ---------------------------------------------------------------------------- RS256 / ES256 keys

TEST_F(ConfigTest, KeyFiles) {
  auto pub = file("ec.pub", ec_keys().public_pem);
  auto priv = file("ec.key", ec_keys().private_pem);
  auto c = parse({"--jwt-algorithm", "ES256", "--jwt-private-key", priv}).cfg;  // public key derived
  EXPECT_EQ(c.jwt.private_key_pem, ec_keys().private_pem);
  EXPECT_TRUE(c.jwt.public_key_pem.empty());  // the verifier derives it; the config holds what was read
  parley::auth::jwt_verifier v(c.jwt);
  EXPECT_TRUE(v.verify(v.sign({"a", ""}, 1h)));

  auto err = error({"--jwt-algorithm", "ES256"});
  EXPECT_EQ(err.rfind("--jwt-public-key: ", 0), 0u) << err;
  err = error({"--jwt-algorithm", "ES256", "--jwt-public-key", missing("nope.pem")});
  EXPECT_EQ(err.rfind("--jwt-public-key: cannot read", 0), 0u) << err;
  EXPECT_NE(err.find("nope.pem"), std::string::npos) << err;
  err = error({"--jwt-algorithm", "ES256", "--jwt-public-key", file("bad.pem", "not a key")});
  EXPECT_EQ(err.rfind("--jwt-public-key: ", 0), 0u) << err;
  err = error({"--jwt-algorithm", "ES256", "--jwt-public-key", file("empty.pem", "")});
  EXPECT_EQ(err.rfind("--jwt-public-key: ", 0), 0u) << err;
  err = error({"--jwt-algorithm", "RS256", "--jwt-public-key", pub});  // an EC key for RS256
  EXPECT_EQ(err.rfind("--jwt-public-key: ", 0), 0u) << err;
  err = error({"--jwt-algorithm", "ES256", "--jwt-public-key", pub, "--jwt-private-key", file("bad.key", "x")});
  EXPECT_EQ(err.rfind("--jwt-private-key: ", 0), 0u) << err;
  err = error({"--jwt-algorithm", "ES256", "--jwt-public-key", pub, "--jwt-private-key", missing("x.key")});
  EXPECT_EQ(err.rfind("--jwt-private-key: cannot read", 0), 0u) << err;

  // A secret with ES256, or keys with HS256: not used, and said so.
  auto cl = parse({"--jwt-algorithm", "ES256", "--jwt-public-key", pub, "--jwt-secret", "x"});
  ASSERT_EQ(cl.warnings.size(), 1u);
  EXPECT_NE(cl.warnings[0].find("jwt-secret"), std::string::npos);
  cl = parse({"--jwt-public-key", pub});
  ASSERT_EQ(cl.warnings.size(), 1u);
  EXPECT_NE(cl.warnings[0].find("jwt-public-key"), std::string::npos);
}

// ---------------------------------------------------------------------------- validation

TEST_F(ConfigTest, EveryValidationErrorNamesItsOption) {
  struct bad_case {
    std::string option;
    std::string value;
  };
  const std::vector<bad_case> cases = {
      {"host", ""},
      {"port", "70000"}, {"port", "-1"}, {"port", "abc"}, {"port", ""}, {"port", "80.5"}, {"port", "0x50"},
      {"path", "socket.io"}, {"path", ""},
      {"transports", ""}, {"transports", "carrier-pigeon"}, {"transports", "polling,smtp"},
      {"cors-origins", "https://chat.example.com/"}, {"cors-origins", "chat.example.com"},
      {"cors-origins", "https://a.example.com/path"},
      {"cors-credentials", "maybe"},
      {"ping-interval-ms", "0"}, {"ping-interval-ms", "-5"}, {"ping-interval-ms", "1s"}, {"ping-interval-ms", "999999999999"},
      {"ping-timeout-ms", "0"},
      {"max-http-buffer-size", "0"}, {"max-http-buffer-size", "-1"},
      {"threads", "5000"}, {"threads", "-2"},
      {"jwt-algorithm", "HS512"}, {"jwt-algorithm", "none"}, {"jwt-algorithm", ""},
      {"jwt-secret", ""},
      {"jwt-leeway-s", "-1"}, {"jwt-leeway-s", "100000"},
      {"database", ""}, {"upload-dir", " "},
      {"max-upload-bytes", "-5"}, {"max-upload-bytes", "0"}, {"max-upload-bytes", "10MB"},
      {"max-message-length", "0"},
      {"rate-limit", "-1"}, {"rate-limit", "fast"}, {"rate-limit", "inf"}, {"rate-limit", "nan"},
      {"typing-timeout-ms", "0"},
      {"dev-login", "sometimes"},
      {"log-level", "verbose"}, {"log-level", ""},
      {"log-format", "xml"},
  };
  for (const auto& c : cases) {
    auto flag = "--" + c.option;
    // As a flag
    auto err = error({flag, c.value});
    EXPECT_EQ(err.rfind(flag + ": ", 0), 0u) << flag << " " << c.value << " -> " << err;
    // From the environment (an empty variable is no value at all)
    if (!c.value.empty()) {
      std::string env_name = "PARLEY_";
      for (char ch : c.option) env_name += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
      err = error({}, {{env_name, c.value}});
      EXPECT_EQ(err.rfind(flag + " (from " + env_name + "): ", 0), 0u) << env_name << "=" << c.value << " -> " << err;
    }
  }
}

// "*" with credentials would grant every site the user's credentials: refused, from every source.
TEST_F(ConfigTest, CorsWildcardWithCredentialsIsRefused) {
  auto refused = [](const std::string& err) {
    EXPECT_EQ(err.rfind("--cors-origins: ", 0), 0u) << err;
    EXPECT_NE(err.find("--cors-credentials"), std::string::npos) << err;
  };
  refused(error({"--cors-origins", "*", "--cors-credentials"}));
  refused(error({"--cors-origins", "https://a.example.com,*", "--cors-credentials", "true"}));
  refused(error({}, {{"PARLEY_CORS_ORIGINS", "*"}, {"PARLEY_CORS_CREDENTIALS", "yes"}}));
  refused(error({"--config", file("c.toml", "cors-origins = [\"*\"]\ncors-credentials = true\n")}));
  refused(error({"--cors-credentials"}, {{"PARLEY_CORS_ORIGINS", "*"}}));  // the pair, from two sources
  // Either alone is fine; the later source may lift the conflict.
  EXPECT_EQ(parse({"--cors-origins", "*"}).cfg.cors_origins, std::vector<std::string>{"*"});
  EXPECT_TRUE(parse({"--cors-origins", "https://a.example.com", "--cors-credentials"}).cfg.cors_credentials);
  EXPECT_FALSE(parse({"--cors-credentials=false"}, {{"PARLEY_CORS_ORIGINS", "*"}, {"PARLEY_CORS_CREDENTIALS", "1"}})
                   .cfg.cors_credentials);
}

TEST_F(ConfigTest, MessagesSayWhatIsWrong) {
  EXPECT_EQ(error({"--port", "70000"}), "--port: '70000' is out of range (expected 0-65535)");
  EXPECT_EQ(error({"--max-upload-bytes", "-5"}), "--max-upload-bytes: '-5' is negative (expected 1-1099511627776 bytes)");
  EXPECT_EQ(error({"--jwt-algorithm", "none"}), "--jwt-algorithm: 'none' is not one of HS256, RS256, ES256");
  EXPECT_EQ(error({"--log-level", "verbose"}),
            "--log-level: 'verbose' is not one of trace, debug, info, warn, error, critical, off");
}

TEST_F(ConfigTest, TomlErrors) {
  // Unknown keys are errors, with a suggestion for typos.
  auto err = error({"--config", file("a.toml", "port = 1\nprot = 2\n")});
  EXPECT_NE(err.find("unknown option 'prot'"), std::string::npos) << err;
  EXPECT_NE(err.find("did you mean 'port'"), std::string::npos) << err;
  EXPECT_NE(err.find("a.toml:2"), std::string::npos) << err;
  err = error({"--config", file("b.toml", "[jwt]\nsecrett = \"x\"\n")});
  EXPECT_NE(err.find("unknown option 'jwt-secrett'"), std::string::npos) << err;
  err = error({"--config", file("c.toml", "[server]\nport = 1\n")});
  EXPECT_NE(err.find("unknown option 'server-port'"), std::string::npos) << err;
  // The same option twice.
  err = error({"--config", file("d.toml", "jwt-secret = \"a\"\n[jwt]\nsecret = \"b\"\n")});
  EXPECT_NE(err.find("'jwt-secret' is set twice"), std::string::npos) << err;
  // Wrong types name the option.
  err = error({"--config", file("e.toml", "port = \"3000\"\n")});
  EXPECT_EQ(err.rfind("--port (from ", 0), 0u) << err;
  EXPECT_NE(err.find("expected an integer"), std::string::npos) << err;
  err = error({"--config", file("f.toml", "transports = [\"polling\", 3]\n")});
  EXPECT_EQ(err.rfind("--transports (from ", 0), 0u) << err;
  err = error({"--config", file("g.toml", "dev-login = \"yes\"\n")});
  EXPECT_EQ(err.rfind("--dev-login (from ", 0), 0u) << err;
  err = error({"--config", file("h.toml", "port = 70000\n")});
  EXPECT_EQ(err.rfind("--port (from ", 0), 0u) << err;
  EXPECT_NE(err.find("h.toml:1"), std::string::npos) << err;
  err = error({"--config", file("i.toml", "max-upload-bytes = -1\n")});
  EXPECT_EQ(err.rfind("--max-upload-bytes (from ", 0), 0u) << err;
  // Syntax errors and missing files.
  err = error({"--config", file("j.toml", "port = \n")});
  EXPECT_EQ(err.rfind("--config: ", 0), 0u) << err;
  EXPECT_NE(err.find("j.toml:1"), std::string::npos) << err;
  err = error({"--config", missing("none.toml")});
  EXPECT_EQ(err.rfind("--config: cannot read", 0), 0u) << err;
  err = error({}, {{"PARLEY_CONFIG", missing("none.toml")}});
  EXPECT_EQ(err.rfind("--config: cannot read", 0), 0u) << err;
  // Strings are accepted for lists (comma-separated), and integers for rate-limit.
  auto c = parse({"--config", file("k.toml", "cors-origins = \"https://a.example.com,https://b.example.com\"\nrate-limit = 3\n")}).cfg;
  EXPECT_EQ(c.cors_origins.size(), 2u);
  EXPECT_EQ(c.rate_limit, 3.0);
}

TEST_F(ConfigTest, UnknownFlagsAreErrors) {
  auto err = error({"--prot", "3000"});
  EXPECT_NE(err.find("--prot"), std::string::npos) << err;
  err = error({"serve-please"});
  EXPECT_NE(err.find("serve-please"), std::string::npos) << err;
  err = error({"--port"});
  EXPECT_NE(err.find("--port"), std::string::npos) << err;
}

// ---------------------------------------------------------------------------- --help, --version

TEST_F(ConfigTest, HelpListsEveryOptionWithItsDefaultAndVariable) {
  auto cl = parse({"--help"});
  EXPECT_EQ(cl.what, command_line::action::exit);
  const auto& help = cl.output;
  for (auto name : {"host", "port", "path", "transports", "cors-origins", "cors-credentials", "ping-interval-ms",
                    "ping-timeout-ms", "max-http-buffer-size", "threads", "jwt-algorithm", "jwt-secret",
                    "jwt-public-key", "jwt-private-key", "jwt-issuer", "jwt-audience", "jwt-leeway-s", "database",
                    "upload-dir", "max-upload-bytes", "max-message-length", "rate-limit", "typing-timeout-ms",
                    "dev-login", "log-level", "log-format", "config"}) {
    EXPECT_NE(help.find(std::string("--") + name), std::string::npos) << name;
    std::string env = "PARLEY_";
    for (const char* p = name; *p; ++p) env += *p == '-' ? '_' : static_cast<char>(std::toupper(*p));
    EXPECT_NE(help.find(env), std::string::npos) << env;
  }
  for (auto def : {"=3000", "=127.0.0.1", "=/socket.io/", "=polling,websocket", "=25000", "=20000", "=1000000",
                   "=HS256", "=30", "=parley.db", "=uploads", "=10485760", "=4000", "=20", "=5000", "=info", "=text"})
    EXPECT_NE(help.find(def), std::string::npos) << def;
  EXPECT_EQ(help.find(parley::development_jwt_secret), std::string::npos);  // not printed
  EXPECT_NE(help.find("token"), std::string::npos);

  auto token_help = parse({"token", "--help"});
  EXPECT_EQ(token_help.what, command_line::action::exit);
  EXPECT_NE(token_help.output.find("--ttl"), std::string::npos) << token_help.output;

  auto version = parse({"--version"});
  EXPECT_EQ(version.what, command_line::action::exit);
  EXPECT_EQ(version.output.rfind("parley ", 0), 0u);
}

TEST_F(ConfigTest, Limits) {
  const auto d = parse({}).cfg;
  EXPECT_EQ(d.rate_limit, 20.0);
  EXPECT_EQ(d.max_conversation_members, 100u);
  EXPECT_EQ(d.conversation_creates_per_minute, 10.0);
  EXPECT_EQ(d.uploads_per_minute, 30.0);
  EXPECT_EQ(d.max_connections_per_user, 20u);
  EXPECT_EQ(d.max_connections_per_address, 256u);

  auto f = parse({"--max-conversation-members", "7", "--conversation-creates-per-minute", "0.5", "--uploads-per-minute",
                  "0", "--max-connections-per-user", "3", "--max-connections-per-address", "0"})
               .cfg;
  EXPECT_EQ(f.max_conversation_members, 7u);
  EXPECT_EQ(f.conversation_creates_per_minute, 0.5);
  EXPECT_EQ(f.uploads_per_minute, 0.0);
  EXPECT_EQ(f.max_connections_per_user, 3u);
  EXPECT_EQ(f.max_connections_per_address, 0u);

  auto e = parse({}, {{"PARLEY_MAX_CONVERSATION_MEMBERS", "1000"}, {"PARLEY_CONVERSATION_CREATES_PER_MINUTE", "60"},
                      {"PARLEY_UPLOADS_PER_MINUTE", "2"}, {"PARLEY_MAX_CONNECTIONS_PER_USER", "0"},
                      {"PARLEY_MAX_CONNECTIONS_PER_ADDRESS", "9"}})
               .cfg;
  EXPECT_EQ(e.max_conversation_members, 1000u);
  EXPECT_EQ(e.conversation_creates_per_minute, 60.0);
  EXPECT_EQ(e.uploads_per_minute, 2.0);
  EXPECT_EQ(e.max_connections_per_user, 0u);
  EXPECT_EQ(e.max_connections_per_address, 9u);

  auto t = parse({"--config", file("limits.toml", "max-conversation-members = 50\n[uploads]\nper-minute = 4.5\n")}).cfg;
  EXPECT_EQ(t.max_conversation_members, 50u);
  EXPECT_EQ(t.uploads_per_minute, 4.5);

  EXPECT_EQ(error({"--max-conversation-members", "1001"}),
            "--max-conversation-members: '1001' is out of range (expected 1-1000 members)");
  EXPECT_EQ(error({"--max-conversation-members", "0"}).rfind("--max-conversation-members: ", 0), 0u);
  EXPECT_EQ(error({"--conversation-creates-per-minute", "-1"}).rfind("--conversation-creates-per-minute: ", 0), 0u);
  EXPECT_EQ(error({"--uploads-per-minute", "lots"}).rfind("--uploads-per-minute: ", 0), 0u);
  EXPECT_EQ(error({"--max-connections-per-user", "-1"}).rfind("--max-connections-per-user: ", 0), 0u);
  EXPECT_EQ(error({}, {{"PARLEY_MAX_CONNECTIONS_PER_ADDRESS", "x"}})
                .rfind("--max-connections-per-address (from PARLEY_MAX_CONNECTIONS_PER_ADDRESS): ", 0),
            0u);

  const auto help = parse({"--help"}).output;
  for (auto def : {"--max-conversation-members N=100", "--conversation-creates-per-minute PER_MIN=10",
                   "--uploads-per-minute PER_MIN=30", "--max-connections-per-user N=20",
                   "--max-connections-per-address N=256", "PARLEY_MAX_CONNECTIONS_PER_ADDRESS",
                   "conversation:list { limit?, before? }", "Connection refused: too many connections"})
    EXPECT_NE(help.find(def), std::string::npos) << def;
}

// ---------------------------------------------------------------------------- parley token

TEST_F(ConfigTest, TokenCommand) {
  auto cl = parse({"token", "--user", "alice", "--name", "Alice", "--ttl", "15m"}, {{"PARLEY_JWT_SECRET", "x"}});
  EXPECT_EQ(cl.what, command_line::action::token);
  EXPECT_EQ(cl.token.user_id, "alice");
  EXPECT_EQ(cl.token.name, "Alice");
  EXPECT_EQ(cl.token.ttl, 15min);
  EXPECT_EQ(cl.cfg.jwt.secret, "x");

  cl = parse({"token", "--user", "bob"});
  EXPECT_EQ(cl.token.ttl, 1h);
  EXPECT_TRUE(cl.token.name.empty());
  EXPECT_TRUE(cl.cfg.jwt_secret_is_default);

  // Config flags before or after the subcommand.
  EXPECT_EQ(parse({"--jwt-secret", "a", "token", "--user", "u"}).cfg.jwt.secret, "a");
  EXPECT_EQ(parse({"token", "--user", "u", "--jwt-secret", "b"}).cfg.jwt.secret, "b");

  EXPECT_NE(error({"token"}).find("--user"), std::string::npos);
  EXPECT_EQ(error({"token", "--user", ""}).rfind("--user: ", 0), 0u);
  EXPECT_EQ(error({"token", "--user", "a", "--ttl", "forever"}).rfind("--ttl: ", 0), 0u);
  EXPECT_EQ(error({"token", "--user", "a", "--ttl", "0s"}).rfind("--ttl: ", 0), 0u);

  // RS256 / ES256 tokens need the private key.
  auto pub = file("ec.pub", ec_keys().public_pem);
  auto err = error({"token", "--user", "a", "--jwt-algorithm", "ES256", "--jwt-public-key", pub});
  EXPECT_EQ(err.rfind("--jwt-private-key: ", 0), 0u) << err;
  cl = parse({"token", "--user", "a", "--jwt-algorithm", "ES256", "--jwt-private-key", file("ec.key", ec_keys().private_pem)});
  parley::auth::jwt_verifier v(cl.cfg.jwt);
  auto r = v.verify(v.sign({cl.token.user_id, cl.token.name}, cl.token.ttl));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user_id, "a");
}

TEST(ParseTtl, Units) {
  using parley::parse_ttl;
  EXPECT_EQ(parse_ttl("30s"), 30s);
  EXPECT_EQ(parse_ttl("15m"), 15min);
  EXPECT_EQ(parse_ttl("1h"), 1h);
  EXPECT_EQ(parse_ttl("7d"), std::chrono::hours(7 * 24));
  EXPECT_EQ(parse_ttl("90"), 90s);
  EXPECT_EQ(parse_ttl(" 2h "), 2h);
  for (auto bad : {"", "h", "0", "0h", "-1h", "1w", "1.5h", "1h30m", "99999999999999999999s", "3661d", "1 h"})
    EXPECT_FALSE(parse_ttl(bad)) << "ttl: " << bad;
  EXPECT_TRUE(parse_ttl("3660d"));  // ten (leap) years
}
