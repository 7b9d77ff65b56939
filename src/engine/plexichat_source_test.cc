#include "engine/plexichat_source.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/fs/testing/temp_dir.h"
#include "engine/sample/plexichat_home.h"

namespace pxb {
namespace {

void WriteConfig(const std::string& home, const std::string& yaml) {
  std::filesystem::create_directories(home + "/config");
  std::ofstream(home + "/" + std::string(kPlexiChatConfigPath)) << yaml;
}

TEST(ParsePlexiChatConfigTest, ReadsSectionsKeysQuotesAndComments) {
  auto parsed = ParsePlexiChatConfig(
      "# PlexiChat server configuration.\n"
      "server:\n"
      "  name: \"Kind # Otter\"\n"
      "  port: 8000   # comment\n"
      "\n"
      "database:\n"
      "  type: sqlite\n"
      "  path: 'data/plexichat.db'\r\n"
      "media:\n"
      "  allowed_types: [image/jpeg, text/plain]\n"
      "version: 3\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::map<std::string, std::string> expected = {
      {"server.name", "Kind # Otter"},
      {"server.port", "8000"},
      {"database.type", "sqlite"},
      {"database.path", "data/plexichat.db"},
      {"media.allowed_types", "[image/jpeg, text/plain]"},
      {"version", "3"},
  };
  EXPECT_EQ(*parsed, expected);
  EXPECT_EQ(ParsePlexiChatConfig("server:\n  just words\n").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PlanPlexiChatBackupTest, GeneratedHomeHasItsSqliteDatabaseInside) {
  TempDir dir;
  auto spec = PlexiChatHomeSpecForSize("tiny");
  ASSERT_TRUE(spec.ok());
  ASSERT_TRUE(GeneratePlexiChatHome(dir.Path("home"), *spec).ok());
  auto plan = PlanPlexiChatBackup(dir.Path("home") + "/");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->home, dir.Path("home"));
  EXPECT_EQ(plan->sqlite_path, dir.Path("home") + "/" + std::string(kPlexiChatDatabasePath));
  EXPECT_TRUE(plan->extra_paths.empty());
  EXPECT_TRUE(plan->dump_command.empty());
}

TEST(PlanPlexiChatBackupTest, PathsOutsideTheHomeBecomeSources) {
  TempDir dir;
  std::filesystem::create_directories(dir.Path("elsewhere/media"));
  WriteConfig(
      dir.Path("home"),
      "database:\n  type: sqlite\n  path: " + dir.Path("db/chat.db") +
          "\nmedia:\n  path: ../elsewhere/media\nsecurity:\n  keyring: keys/keyring.json\n");
  auto plan = PlanPlexiChatBackup(dir.Path("home"));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->sqlite_path, dir.Path("db/chat.db"));
  std::vector<std::string> expected = {dir.Path("elsewhere/media"), dir.Path("db/chat.db")};
  EXPECT_EQ(plan->extra_paths, expected);
}

TEST(PlanPlexiChatBackupTest, PostgresqlIsDumpedWithQuotedSettings) {
  TempDir dir;
  WriteConfig(dir.Path("home"),
              "database:\n  type: postgresql\n  host: /run/pg sock\n  port: 5433\n"
              "  name: \"chat'db\"\n  user: plexichat\n");
  auto plan = PlanPlexiChatBackup(dir.Path("home"));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->sqlite_path.empty());
  EXPECT_EQ(plan->dump_path, dir.Path("home") + "/database.pgdump");
  EXPECT_EQ(plan->dump_command,
            "pg_dump --format=custom --compress=0 --no-password --host='/run/pg sock' "
            "--port='5433' --username='plexichat' --dbname='chat'\\''db'");
}

TEST(PlanPlexiChatBackupTest, RejectsHomesItCannotPlan) {
  TempDir dir;
  EXPECT_EQ(PlanPlexiChatBackup(dir.Path("missing")).status().code(), StatusCode::kInvalidArgument);
  std::filesystem::create_directories(dir.Path("empty"));
  EXPECT_EQ(PlanPlexiChatBackup(dir.Path("empty")).status().code(), StatusCode::kInvalidArgument);
  WriteConfig(dir.Path("mysql"), "database:\n  type: mysql\n");
  EXPECT_EQ(PlanPlexiChatBackup(dir.Path("mysql")).status().code(), StatusCode::kInvalidArgument);
  WriteConfig(dir.Path("nopath"), "database:\n  type: sqlite\n");
  EXPECT_EQ(PlanPlexiChatBackup(dir.Path("nopath")).status().code(), StatusCode::kInvalidArgument);
  WriteConfig(dir.Path("noname"), "database:\n  type: postgresql\n");
  EXPECT_EQ(PlanPlexiChatBackup(dir.Path("noname")).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pxb
