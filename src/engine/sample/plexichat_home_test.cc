#include "engine/sample/plexichat_home.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "pxb/bytes.h"

namespace pxb {
namespace {

namespace fs = std::filesystem;

// A temporary folder, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("pxb-plexichat-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[32];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr), 1);
  return ToHex(ByteView(reinterpret_cast<const std::byte*>(digest), len));
}

// Every regular file below `root` by relative path, with its bytes.
std::map<std::string, std::string> ReadTree(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), root).string()] = ReadFile(entry.path());
    }
  }
  return files;
}

// A read-only connection for checking a generated database.
class Sql {
 public:
  explicit Sql(const fs::path& home) {
    fs::path path = home / kPlexiChatDatabasePath;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }
  ~Sql() { sqlite3_close(db_); }

  std::vector<std::vector<std::string>> Rows(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* text = sqlite3_column_text(stmt, i);
        row.emplace_back(text == nullptr ? ""
                                         : std::string(reinterpret_cast<const char*>(text),
                                                       sqlite3_column_bytes(stmt, i)));
      }
      rows.push_back(std::move(row));
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    return rows;
  }

  std::string Text(const std::string& sql) {
    auto rows = Rows(sql);
    return rows.empty() || rows[0].empty() ? "" : rows[0][0];
  }
  int64_t Int(const std::string& sql) { return std::stoll(Text(sql)); }

  sqlite3* db() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

PlexiChatHomeSpec TinySpec() {
  StatusOr<PlexiChatHomeSpec> spec = PlexiChatHomeSpecForSize("tiny");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return *spec;
}

void ExpectIntact(const fs::path& home) {
  Sql sql(home);
  EXPECT_EQ(sql.Text("PRAGMA integrity_check"), "ok");
  EXPECT_TRUE(sql.Rows("PRAGMA foreign_key_check").empty());
  EXPECT_EQ(sql.Text("PRAGMA journal_mode"), "delete");
  EXPECT_EQ(sql.Int("PRAGMA page_size"), 4096);
  EXPECT_FALSE(fs::exists(home / "data/plexichat.db-wal"));
}

// Every media row names a file of its size and SHA-256, and every file has a row.
void ExpectMediaMatchesFiles(const fs::path& home) {
  Sql sql(home);
  auto rows = sql.Rows("SELECT path, size, sha256 FROM media_files");
  for (const auto& row : rows) {
    fs::path file = home / kPlexiChatMediaDir / row[0];
    ASSERT_TRUE(fs::exists(file)) << file;
    std::string bytes = ReadFile(file);
    EXPECT_EQ(bytes.size(), std::stoull(row[1])) << file;
    EXPECT_EQ(Sha256Hex(bytes), row[2]) << file;
  }
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(home / kPlexiChatMediaDir)) {
    files += entry.is_regular_file() ? 1 : 0;
  }
  EXPECT_EQ(files, rows.size());
}

// Generates one tiny home for the tests that only read it.
class PlexiChatHomeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    Status s = GeneratePlexiChatHome(home(), TinySpec());
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path home() { return dir_->path() / "home"; }

  static TempDir* dir_;
};
TempDir* PlexiChatHomeTest::dir_ = nullptr;

TEST_F(PlexiChatHomeTest, EveryTableHasTheExpectedRows) {
  const PlexiChatHomeSpec spec = TinySpec();
  Sql sql(home());
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM auth_users"), spec.users);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM user_profiles"), spec.users);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM srv_servers"), spec.servers);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM srv_channels"), spec.servers * spec.channels_per_server);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM msg_conversations WHERE kind = 'channel'"),
            spec.servers * spec.channels_per_server);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM msg_conversations WHERE kind <> 'channel'"),
            spec.conversations);
  // Every channel has its conversation.
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM srv_channels ch LEFT JOIN msg_conversations c "
                    "ON c.channel_id = ch.id WHERE c.id IS NULL"),
            0);
  EXPECT_GE(sql.Int("SELECT COUNT(*) FROM msg_conversation_members"), 2 * spec.conversations);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM msg_conversations c WHERE kind = 'direct' AND "
                    "(SELECT COUNT(*) FROM msg_conversation_members m "
                    "WHERE m.conversation_id = c.id) <> 2"),
            0);
  EXPECT_GE(sql.Int("SELECT COUNT(*) FROM srv_members"), spec.servers);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM srv_members WHERE role = 'owner'"), spec.servers);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM msg_messages"), static_cast<int64_t>(spec.messages));
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM media_files"), spec.media_files);
  EXPECT_EQ(sql.Int("SELECT SUM(size) FROM media_files"), static_cast<int64_t>(spec.media_bytes));
  // Media is either an avatar or attached to a message.
  const int64_t avatars =
      sql.Int("SELECT COUNT(*) FROM user_profiles WHERE avatar_media_id IS NOT NULL");
  EXPECT_GT(avatars, 0);
  EXPECT_EQ(sql.Int("SELECT COUNT(DISTINCT media_id) FROM msg_attachments") + avatars,
            spec.media_files);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM msg_attachments a JOIN media_files m ON m.id = "
                    "a.media_id WHERE a.size <> m.size OR a.mime_type <> m.mime_type"),
            0);
  EXPECT_EQ(sql.Text("SELECT value FROM sys_settings WHERE key = 'sample.generator_spec'"),
            PlexiChatHomeSpecString(spec));
}

TEST_F(PlexiChatHomeTest, DatabaseIsIntactAndForeignKeysHold) { ExpectIntact(home()); }

TEST_F(PlexiChatHomeTest, MediaRowsMatchFilesOnDisk) {
  ExpectMediaMatchesFiles(home());
  Sql sql(home());
  // media/<yyyy>/<mm>/<uuid>.<ext>, the month of the upload.
  for (const auto& row : sql.Rows("SELECT id, path, created_at, mime_type FROM media_files")) {
    EXPECT_EQ(row[1].substr(0, 8), row[2].substr(0, 4) + "/" + row[2].substr(5, 2) + "/");
    EXPECT_EQ(row[1].substr(8, row[0].size()), row[0]);
    EXPECT_EQ(row[0].size(), 36u);
  }
  // A mix: incompressible images and compressible text.
  EXPECT_GT(sql.Int("SELECT COUNT(*) FROM media_files WHERE mime_type LIKE 'image/%'"), 0);
  EXPECT_GT(sql.Int("SELECT COUNT(*) FROM media_files WHERE mime_type IN "
                    "('text/plain', 'text/x-log', 'application/json')"),
            0);
  for (const auto& row : sql.Rows("SELECT path FROM media_files WHERE mime_type = 'image/jpeg'")) {
    std::string bytes = ReadFile(home() / kPlexiChatMediaDir / row[0]);
    ASSERT_GE(bytes.size(), 4u);
    EXPECT_EQ(bytes.substr(0, 3), "\xFF\xD8\xFF");
  }
}

TEST_F(PlexiChatHomeTest, KeyringAndConfigDescribeTheHome) {
  nlohmann::json ring = nlohmann::json::parse(ReadFile(home() / "keys/keyring.json"));
  ASSERT_TRUE(ring["keys"].is_array());
  EXPECT_GE(ring["keys"].size(), 2u);
  for (const auto& key : ring["keys"]) {
    fs::path file = home() / "keys" / key["file"].get<std::string>();
    std::string bytes = ReadFile(file);
    EXPECT_EQ(bytes.size(), key["bytes"].get<size_t>());
    EXPECT_EQ(Sha256Hex(bytes), key["sha256"].get<std::string>());
    EXPECT_EQ(fs::status(file).permissions() & (fs::perms::group_all | fs::perms::others_all),
              fs::perms::none)
        << file;
  }
  std::string config = ReadFile(home() / kPlexiChatConfigPath);
  EXPECT_NE(config.find("type: sqlite"), std::string::npos);
  EXPECT_NE(config.find("path: data/plexichat.db"), std::string::npos);
  EXPECT_NE(config.find("path: media"), std::string::npos);
}

// The keyring is what makes the encrypted column readable.
TEST_F(PlexiChatHomeTest, EncryptedColumnOpensWithTheColumnKey) {
  std::string key = ReadFile(home() / "keys/db-column-2026-01.key");
  ASSERT_EQ(key.size(), 32u);
  Sql sql(home());
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(sql.db(),
                               "SELECT totp_secret_enc FROM auth_users "
                               "WHERE totp_secret_enc IS NOT NULL",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  int sealed = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::string blob(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                     sqlite3_column_bytes(stmt, 0));
    ASSERT_EQ(blob.size(), 12u + 20u + 16u);
    unsigned char plain[20];
    int len = 0;
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    auto* data = reinterpret_cast<unsigned char*>(blob.data());
    EXPECT_EQ(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr,
                                 reinterpret_cast<const unsigned char*>(key.data()), data),
              1);
    EXPECT_EQ(EVP_DecryptUpdate(ctx, plain, &len, data + 12, 20), 1);
    EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, data + 32), 1);
    EXPECT_EQ(EVP_DecryptFinal_ex(ctx, plain + len, &len), 1) << "tag does not verify";
    EVP_CIPHER_CTX_free(ctx);
    ++sealed;
  }
  sqlite3_finalize(stmt);
  EXPECT_GT(sealed, 0);
}

TEST_F(PlexiChatHomeTest, MessagesLookLikeAChatServer) {
  Sql sql(home());
  auto contents = sql.Rows("SELECT content FROM msg_messages");
  auto count = [&](std::string_view needle) {
    return std::count_if(contents.begin(), contents.end(),
                         [&](const auto& row) { return row[0].find(needle) != std::string::npos; });
  };
  EXPECT_GT(count("\xF0\x9F"), 0);  // emoji
  EXPECT_GT(count("```"), 0);       // code
  EXPECT_GT(count("https://"), 0);  // links
  EXPECT_GT(count("@"), 0);         // mentions
  EXPECT_GT(count("?"), 0);         // questions
  EXPECT_GT(sql.Int("SELECT MAX(LENGTH(content)) FROM msg_messages"), 200);
  EXPECT_GT(sql.Int("SELECT COUNT(*) FROM msg_messages WHERE reply_to IS NOT NULL"), 0);
  EXPECT_GT(sql.Int("SELECT COUNT(*) FROM msg_messages WHERE edited_at > created_at"), 0);
  EXPECT_GT(sql.Int("SELECT COUNT(*) FROM msg_messages WHERE deleted = 1"), 0);
  // Replies point back in time, and ids follow time.
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM msg_messages WHERE reply_to >= id"), 0);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM msg_messages a JOIN msg_messages b ON b.id = a.id + 1 "
                    "WHERE b.created_at < a.created_at"),
            0);
  EXPECT_GE(sql.Text("SELECT MIN(created_at) FROM auth_users"), "2026-01-01T00:00:00.000Z");
  EXPECT_LT(sql.Text("SELECT MAX(created_at) FROM msg_messages"), "2026-08-01");
  // Skewed: the busiest conversation has far more messages than the median one.
  auto per_conversation =
      sql.Rows("SELECT COUNT(*) AS n FROM msg_messages GROUP BY conversation_id ORDER BY n DESC");
  ASSERT_GT(per_conversation.size(), 4u);
  EXPECT_GT(std::stoll(per_conversation.front()[0]),
            5 * std::stoll(per_conversation[per_conversation.size() / 2][0]));
  // Nobody posts into a voice channel, and senders belong where they post.
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM msg_messages m JOIN msg_conversations c ON c.id = "
                    "m.conversation_id JOIN srv_channels ch ON ch.id = c.channel_id "
                    "WHERE ch.kind = 'voice'"),
            0);
  EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM msg_messages m JOIN msg_conversations c ON c.id = "
                    "m.conversation_id WHERE c.kind <> 'channel' AND NOT EXISTS (SELECT 1 FROM "
                    "msg_conversation_members cm WHERE cm.conversation_id = c.id AND "
                    "cm.user_id = m.sender_id)"),
            0);
}

TEST(PlexiChatGenerationTest, SameSeedGivesByteIdenticalTrees) {
  TempDir dir;
  ASSERT_TRUE(GeneratePlexiChatHome(dir.path() / "a", TinySpec()).ok());
  ASSERT_TRUE(GeneratePlexiChatHome(dir.path() / "b", TinySpec()).ok());
  auto a = ReadTree(dir.path() / "a");
  auto b = ReadTree(dir.path() / "b");
  ASSERT_EQ(a.size(), b.size());
  EXPECT_GT(a.size(), TinySpec().media_files);
  for (const auto& [path, bytes] : a) {
    ASSERT_TRUE(b.count(path)) << path;
    EXPECT_TRUE(b[path] == bytes) << path << " differs";
  }
}

TEST(PlexiChatGenerationTest, DifferentSeedGivesDifferentHome) {
  TempDir dir;
  PlexiChatHomeSpec other = TinySpec();
  other.seed = 2;
  ASSERT_TRUE(GeneratePlexiChatHome(dir.path() / "a", TinySpec()).ok());
  ASSERT_TRUE(GeneratePlexiChatHome(dir.path() / "b", other).ok());
  EXPECT_NE(ReadFile(dir.path() / "a" / kPlexiChatDatabasePath),
            ReadFile(dir.path() / "b" / kPlexiChatDatabasePath));
  EXPECT_NE(ReadFile(dir.path() / "a/keys/keyring.json"),
            ReadFile(dir.path() / "b/keys/keyring.json"));
  Sql a(dir.path() / "a");
  Sql b(dir.path() / "b");
  EXPECT_NE(a.Text("SELECT group_concat(id) FROM media_files"),
            b.Text("SELECT group_concat(id) FROM media_files"));
  EXPECT_EQ(a.Int("SELECT COUNT(*) FROM msg_messages"), b.Int("SELECT COUNT(*) FROM msg_messages"));
}

TEST(PlexiChatGenerationTest, SecondCallRestoresMissingFilesAndKeepsTheRest) {
  TempDir dir;
  const fs::path home = dir.path() / "home";
  ASSERT_TRUE(GeneratePlexiChatHome(home, TinySpec()).ok());
  auto before = ReadTree(home);
  const auto db_time = fs::last_write_time(home / kPlexiChatDatabasePath);
  std::vector<std::string> media;
  for (const auto& [path, bytes] : before) {
    if (path.rfind("media/", 0) == 0) media.push_back(path);
  }
  ASSERT_GE(media.size(), 2u);
  fs::remove(home / media[0]);
  fs::resize_file(home / media[1], 1);
  fs::remove(home / "keys/keyring.json");

  Status s = GeneratePlexiChatHome(home, TinySpec());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(ReadTree(home) == before);
  EXPECT_EQ(fs::last_write_time(home / kPlexiChatDatabasePath), db_time);
}

TEST(PlexiChatGenerationTest, AnotherSpecOnAnExistingHomeIsRefused) {
  TempDir dir;
  ASSERT_TRUE(GeneratePlexiChatHome(dir.path(), TinySpec()).ok());
  PlexiChatHomeSpec other = TinySpec();
  other.messages += 1;
  Status s = GeneratePlexiChatHome(dir.path(), other);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("messages=3000"), std::string_view::npos) << s.ToString();
}

TEST(PlexiChatGenerationTest, ImpossibleSpecsAreInvalidArguments) {
  TempDir dir;
  PlexiChatHomeSpec one_user = TinySpec();
  one_user.users = 1;
  EXPECT_EQ(GeneratePlexiChatHome(dir.path(), one_user).code(), StatusCode::kInvalidArgument);
  PlexiChatHomeSpec nowhere = TinySpec();
  nowhere.servers = 0;
  nowhere.conversations = 0;
  EXPECT_EQ(GeneratePlexiChatHome(dir.path(), nowhere).code(), StatusCode::kInvalidArgument);
  PlexiChatHomeSpec no_messages = TinySpec();
  no_messages.messages = 0;
  no_messages.media_files = no_messages.users + 1;
  EXPECT_EQ(GeneratePlexiChatHome(dir.path(), no_messages).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir.path() / kPlexiChatDatabasePath));
}

TEST(PlexiChatGenerationTest, EmptyMediaAndNoMessagesStillMakeAHome) {
  TempDir dir;
  PlexiChatHomeSpec spec = TinySpec();
  spec.messages = 0;
  spec.media_files = 3;
  spec.media_bytes = 0;
  ASSERT_TRUE(GeneratePlexiChatHome(dir.path(), spec).ok());
  ExpectIntact(dir.path());
  ExpectMediaMatchesFiles(dir.path());
}

TEST(PlexiChatPresetTest, UnknownPresetNamesTheValidOnes) {
  StatusOr<PlexiChatHomeSpec> spec = PlexiChatHomeSpecForSize("huge");
  ASSERT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  for (std::string_view name : PlexiChatHomePresets()) {
    EXPECT_NE(spec.status().message().find(name), std::string_view::npos) << name;
  }
  EXPECT_NE(spec.status().message().find("huge"), std::string_view::npos);
}

TEST(PlexiChatPresetTest, PresetsGrowAndSmallIsTheDefault) {
  ASSERT_EQ(PlexiChatHomePresets().size(), 4u);
  uint64_t last_bytes = 0, last_messages = 0;
  for (std::string_view name : PlexiChatHomePresets()) {
    StatusOr<PlexiChatHomeSpec> spec = PlexiChatHomeSpecForSize(name);
    ASSERT_TRUE(spec.ok()) << name;
    EXPECT_GT(spec->media_bytes, last_bytes) << name;
    EXPECT_GT(spec->messages, last_messages) << name;
    last_bytes = spec->media_bytes;
    last_messages = spec->messages;
  }
  EXPECT_EQ(*PlexiChatHomeSpecForSize("small"), PlexiChatHomeSpec{});
}

struct ActivityCounts {
  int64_t messages, edited, users, media;
};

ActivityCounts CountActivity(const fs::path& home) {
  Sql sql(home);
  return {sql.Int("SELECT COUNT(*) FROM msg_messages"),
          sql.Int("SELECT COUNT(*) FROM msg_messages WHERE edited_at IS NOT NULL"),
          sql.Int("SELECT COUNT(*) FROM auth_users"), sql.Int("SELECT COUNT(*) FROM media_files")};
}

TEST(PlexiChatActivityTest, AddsExactlyTheRequestedMessagesAndEdits) {
  TempDir dir;
  ASSERT_TRUE(GeneratePlexiChatHome(dir.path(), TinySpec()).ok());
  const ActivityCounts before = CountActivity(dir.path());
  const std::string last_before = Sql(dir.path()).Text("SELECT MAX(created_at) FROM msg_messages");

  Status s = SimulatePlexiChatActivity(dir.path(), 7, 1000, 150);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const ActivityCounts after = CountActivity(dir.path());
  EXPECT_EQ(after.messages, before.messages + 1000);
  EXPECT_EQ(after.edited, before.edited + 150);
  EXPECT_GT(after.users, before.users);
  EXPECT_GT(after.media, before.media);
  {
    Sql sql(dir.path());
    EXPECT_GT(sql.Text("SELECT MIN(created_at) FROM msg_messages WHERE id > " +
                       std::to_string(before.messages)),
              last_before);
    EXPECT_EQ(sql.Int("SELECT COUNT(*) FROM msg_messages WHERE edited_at IS NOT NULL AND "
                      "edited_at <= created_at"),
              0);
  }
  ExpectIntact(dir.path());
  ExpectMediaMatchesFiles(dir.path());

  // The same seed again continues instead of repeating itself.
  s = SimulatePlexiChatActivity(dir.path(), 7, 1000, 150);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const ActivityCounts again = CountActivity(dir.path());
  EXPECT_EQ(again.messages, after.messages + 1000);
  EXPECT_EQ(again.edited, after.edited + 150);
  ExpectIntact(dir.path());
  ExpectMediaMatchesFiles(dir.path());

  // A topped-up home keeps the activity.
  ASSERT_TRUE(GeneratePlexiChatHome(dir.path(), TinySpec()).ok());
  EXPECT_EQ(CountActivity(dir.path()).messages, again.messages);
}

TEST(PlexiChatActivityTest, IsDeterministic) {
  TempDir dir;
  for (const char* name : {"a", "b"}) {
    ASSERT_TRUE(GeneratePlexiChatHome(dir.path() / name, TinySpec()).ok());
    Status s = SimulatePlexiChatActivity(dir.path() / name, 42, 800, 100);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_TRUE(ReadTree(dir.path() / "a") == ReadTree(dir.path() / "b"));
}

TEST(PlexiChatActivityTest, CanEditEveryEditableMessage) {
  TempDir dir;
  ASSERT_TRUE(GeneratePlexiChatHome(dir.path(), TinySpec()).ok());
  const int64_t editable = Sql(dir.path())
                               .Int(
                                   "SELECT COUNT(*) FROM msg_messages WHERE edited_at IS NULL AND "
                                   "deleted = 0");
  Status s = SimulatePlexiChatActivity(dir.path(), 3, 0, static_cast<uint64_t>(editable));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Sql(dir.path())
                .Int("SELECT COUNT(*) FROM msg_messages WHERE edited_at IS NULL AND "
                     "deleted = 0"),
            0);
  s = SimulatePlexiChatActivity(dir.path(), 3, 10, 1);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
}

TEST(PlexiChatActivityTest, MissingHomeIsNotFound) {
  TempDir dir;
  EXPECT_EQ(SimulatePlexiChatActivity(dir.path() / "nothing", 1, 10, 1).code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace pxb
