#include "engine/fs/node_writer.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "engine/fs/node_reader.h"
#include "engine/fs/testing/temp_dir.h"

namespace pxb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr uint64_t kMiB = 1 << 20;

// Runs setfacl; false if the tool is missing or refuses.
bool SetFacl(const std::string& args) {
  return std::system(("setfacl " + args + " 2>/dev/null").c_str()) == 0;
}

// The text getfacl prints for a path, without the "# file:" header.
std::string GetFacl(const std::string& path) {
  std::string out;
  FILE* pipe = popen(("getfacl --omit-header --numeric " + path + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

class NodeWriterTest : public ::testing::Test {
 protected:
  void CreateFile(const std::string& name, mode_t mode = 0600) {
    int fd = openat(dir_.fd(), name.c_str(), O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, mode);
    ASSERT_GE(fd, 0) << name << ": " << std::strerror(errno);
    close(fd);
  }

  Node Read(const std::string& name) {
    StatusOr<Node> node = ReadNode(dir_.fd(), name, dir_.Path(name), names_, {});
    EXPECT_TRUE(node.ok()) << node.status().ToString();
    return node.ok() ? *std::move(node) : Node{};
  }

  void Apply(const std::string& name, const Node& node, const ApplyOptions& options = {}) {
    Status status = ApplyMetadata(dir_.fd(), name, node, options, names_);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }

  // Reads `original`, applies its metadata to `copy` and expects `copy` to
  // read back the same, apart from identity and content fields.
  void ExpectRoundTrip(const std::string& original, const std::string& copy) {
    Node want = Read(original);
    Apply(copy, want);
    Node got = Read(copy);
    EXPECT_EQ(got.type, want.type);
    EXPECT_EQ(got.mode, want.mode) << std::oct << got.mode << " vs " << want.mode;
    EXPECT_EQ(got.uid, want.uid);
    EXPECT_EQ(got.gid, want.gid);
    EXPECT_EQ(got.user, want.user);
    EXPECT_EQ(got.group, want.group);
    EXPECT_EQ(got.mtime_ns, want.mtime_ns);
    EXPECT_EQ(got.atime_ns, want.atime_ns);
    EXPECT_EQ(got.rdev, want.rdev);
    EXPECT_EQ(got.link_target, want.link_target);
    EXPECT_EQ(got.xattrs, want.xattrs);
    EXPECT_EQ(got.acl_access, want.acl_access);
    EXPECT_EQ(got.acl_default, want.acl_default);
    EXPECT_NE(got.inode, want.inode);
  }

  TempDir dir_;
  OwnerNames names_;
};

TEST_F(NodeWriterTest, RoundTripsRegularFileMetadata) {
  CreateFile("original", 0644);
  const std::string binary("\0\xff\x01\0", 4);
  const std::string path = dir_.Path("original");
  ASSERT_EQ(setxattr(path.c_str(), "user.bin", binary.data(), binary.size(), 0), 0);
  ASSERT_EQ(setxattr(path.c_str(), "user.a", "text", 4, 0), 0);
  ASSERT_EQ(chown(path.c_str(), 1234, 2345), 0);
  if (!SetFacl("-m u:1234:rwx,g:2345:r " + path)) GTEST_SKIP() << "setfacl unavailable";
  ASSERT_EQ(chmod(path.c_str(), 04751), 0);
  timespec times[2] = {{1'700'000'000, 123'456'789}, {1'600'000'000, 987'654'321}};
  ASSERT_EQ(utimensat(dir_.fd(), "original", times, 0), 0);

  CreateFile("copy");
  ExpectRoundTrip("original", "copy");
  Node copy = Read("copy");
  EXPECT_EQ(copy.mode, 04751u);
  EXPECT_EQ(copy.uid, 1234u);
  EXPECT_EQ(copy.gid, 2345u);
  EXPECT_EQ(copy.mtime_ns, 1'600'000'000'987'654'321LL);
  EXPECT_EQ(copy.atime_ns, 1'700'000'000'123'456'789LL);
  EXPECT_THAT(copy.xattrs, ElementsAre(Pair("user.a", "text"), Pair("user.bin", binary)));
  EXPECT_FALSE(copy.acl_access.empty());
  EXPECT_EQ(GetFacl(dir_.Path("copy")), GetFacl(path));
  EXPECT_THAT(GetFacl(dir_.Path("copy")), HasSubstr("user:1234:rwx"));
}

TEST_F(NodeWriterTest, RoundTripsDirectoryWithDefaultAclAndStickyBits) {
  ASSERT_EQ(mkdirat(dir_.fd(), "original", 0755), 0);
  const std::string path = dir_.Path("original");
  ASSERT_EQ(setxattr(path.c_str(), "user.d", "1", 1, 0), 0);
  if (!SetFacl("-m u:1234:rx -m d:u:1234:rwx,d:g::rx " + path)) {
    GTEST_SKIP() << "setfacl unavailable";
  }
  ASSERT_EQ(chmod(path.c_str(), 03775), 0);
  timespec times[2] = {{1'000, 1}, {2'000, 2}};
  ASSERT_EQ(utimensat(dir_.fd(), "original", times, 0), 0);

  ASSERT_EQ(mkdirat(dir_.fd(), "copy", 0700), 0);
  ExpectRoundTrip("original", "copy");
  Node copy = Read("copy");
  EXPECT_EQ(copy.mode, 03775u);
  EXPECT_FALSE(copy.acl_default.empty());
  EXPECT_EQ(GetFacl(dir_.Path("copy")), GetFacl(path));
}

TEST_F(NodeWriterTest, DefaultAclIsOnlyForDirectories) {
  CreateFile("f");
  ASSERT_EQ(mkdirat(dir_.fd(), "d", 0755), 0);
  if (!SetFacl("-m d:u:1234:rwx " + dir_.Path("d"))) GTEST_SKIP() << "setfacl unavailable";
  Node node = Read("f");
  node.acl_default = Read("d").acl_default;
  ASSERT_FALSE(node.acl_default.empty());
  Apply("f", node);
  EXPECT_TRUE(Read("f").acl_default.empty());
}

TEST_F(NodeWriterTest, RoundTripsSymlinkOwnerAndTimes) {
  ASSERT_EQ(symlinkat("no/such/target", dir_.fd(), "original"), 0);
  ASSERT_EQ(fchownat(dir_.fd(), "original", 1234, 1234, AT_SYMLINK_NOFOLLOW), 0);
  timespec times[2] = {{1'500'000'000, 5}, {1'400'000'000, 999'999'999}};
  ASSERT_EQ(utimensat(dir_.fd(), "original", times, AT_SYMLINK_NOFOLLOW), 0);

  Node node = Read("original");
  node.name = "copy";
  Status created = CreateSpecialNode(dir_.fd(), node);
  ASSERT_TRUE(created.ok()) << created.ToString();
  ExpectRoundTrip("original", "copy");
  EXPECT_EQ(Read("copy").link_target, "no/such/target");
  EXPECT_EQ(Read("copy").uid, 1234u);
}

TEST_F(NodeWriterTest, CreatesFifoWithItsMode) {
  ASSERT_EQ(mkfifoat(dir_.fd(), "original", 0600), 0);
  ASSERT_EQ(fchmodat(dir_.fd(), "original", 0674, 0), 0);
  Node node = Read("original");
  node.name = "copy";
  Status created = CreateSpecialNode(dir_.fd(), node);
  ASSERT_TRUE(created.ok()) << created.ToString();
  ExpectRoundTrip("original", "copy");
  EXPECT_EQ(Read("copy").mode, 0674u);
}

TEST_F(NodeWriterTest, CreatesCharAndBlockDevices) {
  if (mknodat(dir_.fd(), "chr", S_IFCHR | 0666, makedev(1, 3)) != 0) {
    GTEST_SKIP() << "mknod not permitted: " << std::strerror(errno);
  }
  ASSERT_EQ(mknodat(dir_.fd(), "blk", S_IFBLK | 0640, makedev(7, 200)), 0);
  for (const char* name : {"chr", "blk"}) {
    Node node = Read(name);
    node.name = std::string(name) + ".copy";
    Status created = CreateSpecialNode(dir_.fd(), node);
    ASSERT_TRUE(created.ok()) << created.ToString();
    ExpectRoundTrip(name, node.name);
  }
  EXPECT_EQ(Read("chr.copy").type, NodeType::kCharDevice);
  EXPECT_EQ(Read("chr.copy").rdev, makedev(1, 3));
  EXPECT_EQ(Read("blk.copy").type, NodeType::kBlockDevice);
  EXPECT_EQ(Read("blk.copy").rdev, makedev(7, 200));
}

TEST_F(NodeWriterTest, SocketIsRestoredAsNothing) {
  Node node;
  node.name = "sock";
  node.type = NodeType::kSocket;
  node.mode = 0755;
  EXPECT_TRUE(CreateSpecialNode(dir_.fd(), node).ok());
  struct stat st;
  EXPECT_NE(fstatat(dir_.fd(), "sock", &st, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_TRUE(ApplyMetadata(dir_.fd(), "sock", node, {}, names_).ok());
}

TEST_F(NodeWriterTest, CreateSpecialNodeRefusesExistingEntriesAndBadNodes) {
  CreateFile("taken");
  Node fifo;
  fifo.name = "taken";
  fifo.type = NodeType::kFifo;
  Status status = CreateSpecialNode(dir_.fd(), fifo);
  EXPECT_EQ(status.code(), StatusCode::kAlreadyExists) << status.ToString();
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir_.Path("taken")));

  Node link;
  link.name = "taken";
  link.type = NodeType::kSymlink;
  link.link_target = "x";
  EXPECT_EQ(CreateSpecialNode(dir_.fd(), link).code(), StatusCode::kAlreadyExists);
  link.name = "empty-target";
  link.link_target = "";
  EXPECT_EQ(CreateSpecialNode(dir_.fd(), link).code(), StatusCode::kInvalidArgument);

  for (NodeType type : {NodeType::kFile, NodeType::kDirectory}) {
    Node node;
    node.name = "new";
    node.type = type;
    EXPECT_EQ(CreateSpecialNode(dir_.fd(), node).code(), StatusCode::kInvalidArgument);
  }
  for (const char* name : {"", ".", "..", "a/b"}) {
    fifo.name = name;
    EXPECT_EQ(CreateSpecialNode(dir_.fd(), fifo).code(), StatusCode::kInvalidArgument) << name;
  }
}

TEST_F(NodeWriterTest, ChangesOwnerByNumber) {
  CreateFile("f");
  Node node = Read("f");
  node.uid = 1234;
  node.gid = 1234;
  node.user = "";
  node.group = "";
  Apply("f", node);
  EXPECT_EQ(Read("f").uid, 1234u);
  EXPECT_EQ(Read("f").gid, 1234u);
}

TEST_F(NodeWriterTest, ChangesOwnerByNameUnlessNumericIds) {
  passwd* daemon_user = getpwnam("daemon");
  group* daemon_group = getgrnam("daemon");
  if (daemon_user == nullptr || daemon_group == nullptr) GTEST_SKIP() << "no daemon user";
  const uid_t daemon_uid = daemon_user->pw_uid;
  const gid_t daemon_gid = daemon_group->gr_gid;
  CreateFile("f");
  Node node = Read("f");
  node.uid = 4321;
  node.gid = 4322;
  node.user = "daemon";
  node.group = "daemon";

  Apply("f", node);
  EXPECT_EQ(Read("f").uid, daemon_uid);
  EXPECT_EQ(Read("f").gid, daemon_gid);

  Apply("f", node, {.numeric_ids = true});
  EXPECT_EQ(Read("f").uid, 4321u);
  EXPECT_EQ(Read("f").gid, 4322u);

  // A name unknown here falls back to the number.
  node.uid = 4323;
  node.gid = 4324;
  node.user = "pxb-no-such-user";
  node.group = "pxb-no-such-group";
  Apply("f", node);
  EXPECT_EQ(Read("f").uid, 4323u);
  EXPECT_EQ(Read("f").gid, 4324u);
}

TEST_F(NodeWriterTest, OptionsTurnPartsOff) {
  CreateFile("f");
  ASSERT_EQ(mkdirat(dir_.fd(), "acl", 0755), 0);
  if (!SetFacl("-m u:1234:rwx " + dir_.Path("acl"))) GTEST_SKIP() << "setfacl unavailable";
  Node node = Read("f");
  const uid_t uid = node.uid;
  node.uid = 1234;
  node.user = "";
  node.xattrs = {{"user.x", "1"}};
  node.acl_access = Read("acl").acl_access;
  node.mode = 0640;
  Apply("f", node, {.owners = false, .xattrs = false, .acls = false});
  Node got = Read("f");
  EXPECT_EQ(got.uid, uid);
  EXPECT_TRUE(got.xattrs.empty());
  EXPECT_TRUE(got.acl_access.empty());
  EXPECT_EQ(got.mode, 0640u);
  EXPECT_EQ(got.mtime_ns, node.mtime_ns);
}

TEST_F(NodeWriterTest, AppliesNanosecondAndPreEpochTimes) {
  CreateFile("f");
  Node node = Read("f");
  node.mtime_ns = -1'500'000'001;  // 1969-12-31T23:59:58.499999999Z
  node.atime_ns = 1'700'000'000'123'456'789;
  Apply("f", node);
  struct stat st;
  ASSERT_EQ(fstatat(dir_.fd(), "f", &st, 0), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, -2);
  EXPECT_EQ(st.st_mtim.tv_nsec, 499'999'999);
  EXPECT_EQ(st.st_atim.tv_sec, 1'700'000'000);
  EXPECT_EQ(st.st_atim.tv_nsec, 123'456'789);
  EXPECT_EQ(Read("f").mtime_ns, node.mtime_ns);
}

TEST_F(NodeWriterTest, DoesNotFollowSymlinks) {
  CreateFile("target", 0600);
  ASSERT_EQ(symlinkat("target", dir_.fd(), "link"), 0);
  struct stat before;
  ASSERT_EQ(fstatat(dir_.fd(), "target", &before, 0), 0);
  Node node = Read("link");
  node.uid = 1234;
  node.mtime_ns = 42;
  Apply("link", node);
  struct stat after;
  ASSERT_EQ(fstatat(dir_.fd(), "target", &after, 0), 0);
  EXPECT_EQ(after.st_uid, before.st_uid);
  EXPECT_EQ(after.st_mode, before.st_mode);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_EQ(Read("link").mtime_ns, 42);
}

TEST_F(NodeWriterTest, ErrorsNameThePath) {
  Node node;
  node.type = NodeType::kFile;
  Status status = ApplyMetadata(dir_.fd(), "gone", node, {}, names_);
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir_.Path("gone")));

  // Bytes that are not UTF-8 are shown escaped.
  status = ApplyMetadata(dir_.fd(), "\xff\xfe.gone", node, {}, names_);
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("/\\xff\\xfe.gone"));
}

TEST_F(NodeWriterTest, TypeMismatchIsInvalidArgument) {
  CreateFile("f");
  Node node = Read("f");
  node.type = NodeType::kDirectory;
  Status status = ApplyMetadata(dir_.fd(), "f", node, {}, names_);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
}

TEST_F(NodeWriterTest, RoundTripsNameThatIsNotUtf8) {
  const std::string name = "\xff\xfe.bin";
  CreateFile("original", 0640);
  ASSERT_EQ(setxattr(dir_.Path("original").c_str(), "user.k", "v", 1, 0), 0);
  CreateFile(name);
  ExpectRoundTrip("original", name);
}

TEST_F(NodeWriterTest, ReportsRefusedXattrButStillSetsTimes) {
  // user.* xattrs are not allowed on FIFOs; the times are still applied.
  ASSERT_EQ(mkfifoat(dir_.fd(), "fifo", 0600), 0);
  Node node = Read("fifo");
  node.xattrs = {{"user.nope", "1"}};
  node.mtime_ns = 1'000'000'007;
  Status status = ApplyMetadata(dir_.fd(), "fifo", node, {}, names_);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("user.nope"));
  EXPECT_THAT(std::string(status.message()), HasSubstr(dir_.Path("fifo")));
  EXPECT_EQ(Read("fifo").mtime_ns, 1'000'000'007);
}

// Without root, a chown away and a privileged xattr namespace are skipped,
// while everything else is applied. Runs in a child that gives up root.
TEST_F(NodeWriterTest, WithoutRootSkipsChownAndPrivilegedXattrs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to another user";
  const uid_t nobody = 65534;
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  CreateFile("f");
  ASSERT_EQ(chown(dir_.Path("f").c_str(), nobody, nobody), 0);
  Node node = Read("f");
  node.uid = 1234;
  node.gid = 1234;
  node.user = "";
  node.group = "";
  node.mode = 0640;
  node.xattrs = {{"trusted.secret", "s"}, {"user.ok", "v"}};
  node.mtime_ns = 1'234'567'890'000'000'001;

  EXPECT_EXIT(
      {
        if (setgroups(0, nullptr) != 0 || setgid(nobody) != 0 || setuid(nobody) != 0) _exit(3);
        Status status = ApplyMetadata(dir_.fd(), "f", node, {}, names_);
        if (!status.ok()) {
          fprintf(stderr, "%s\n", status.ToString().c_str());
          _exit(1);
        }
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");

  Node got = Read("f");
  EXPECT_EQ(got.uid, nobody);
  EXPECT_EQ(got.gid, nobody);
  EXPECT_EQ(got.mode, 0640u);
  EXPECT_THAT(got.xattrs, ElementsAre(Pair("user.ok", "v")));
  EXPECT_EQ(got.mtime_ns, node.mtime_ns);
}

// Restore finishes a file through its open fd under a temporary name and
// then renames it: everything set must survive the rename.
TEST_F(NodeWriterTest, FileMetadataThroughFdSurvivesRename) {
  CreateFile("original", 0644);
  const std::string path = dir_.Path("original");
  ASSERT_EQ(setxattr(path.c_str(), "user.a", "text", 4, 0), 0);
  ASSERT_EQ(chown(path.c_str(), 1234, 2345), 0);
  if (!SetFacl("-m u:1234:rwx " + path)) GTEST_SKIP() << "setfacl unavailable";
  ASSERT_EQ(chmod(path.c_str(), 04750), 0);
  timespec times[2] = {{1'700'000'000, 5}, {1'600'000'000, 987'654'321}};
  ASSERT_EQ(utimensat(dir_.fd(), "original", times, 0), 0);
  Node want = Read("original");

  int fd = openat(dir_.fd(), ".temp", O_CREAT | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "data", 4), 4);
  Status status = ApplyFileMetadata(fd, dir_.Path("copy"), want, {}, names_);
  EXPECT_TRUE(status.ok()) << status.ToString();
  close(fd);
  ASSERT_EQ(renameat(dir_.fd(), ".temp", dir_.fd(), "copy"), 0);

  Node got = Read("copy");
  EXPECT_EQ(got.mode, 04750u) << std::oct << got.mode;
  EXPECT_EQ(got.uid, 1234u);
  EXPECT_EQ(got.gid, 2345u);
  EXPECT_EQ(got.mtime_ns, want.mtime_ns);
  EXPECT_EQ(got.atime_ns, want.atime_ns);
  EXPECT_EQ(got.xattrs, want.xattrs);
  EXPECT_EQ(got.acl_access, want.acl_access);
  EXPECT_EQ(GetFacl(dir_.Path("copy")), GetFacl(path));
}

TEST_F(NodeWriterTest, FileMetadataThroughFdReportsTheDisplayPathAndStillSetsTimes) {
  int fd = openat(dir_.fd(), ".temp", O_CREAT | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  Node node = Read(".temp");
  node.xattrs = {{"nonamespace", "1"}};
  node.mtime_ns = 1'000'000'007;
  Status status = ApplyFileMetadata(fd, "/restored/name", node, {}, names_);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("/restored/name"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("nonamespace"));
  EXPECT_EQ(Read(".temp").mtime_ns, 1'000'000'007);

  node.type = NodeType::kDirectory;
  EXPECT_EQ(ApplyFileMetadata(fd, "/restored/name", node, {}, names_).code(),
            StatusCode::kInvalidArgument);
  close(fd);
}

TEST_F(NodeWriterTest, SetSizeKeepsUnwrittenRangesAsHoles) {
  int fd = openat(dir_.fd(), "sparse", O_CREAT | O_RDWR | O_EXCL | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const std::string block(4096, 'x');
  ASSERT_EQ(pwrite(fd, block.data(), block.size(), 1 * kMiB), 4096);
  ASSERT_EQ(pwrite(fd, block.data(), block.size(), 5 * kMiB), 4096);
  Status status = PunchHolesAndSetSize(fd, 8 * kMiB);
  ASSERT_TRUE(status.ok()) << status.ToString();

  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(8 * kMiB));
  EXPECT_LE(st.st_blocks * 512, 64 * 1024);
  StatusOr<std::vector<DataExtent>> extents = FindDataExtents(fd, 8 * kMiB);
  ASSERT_TRUE(extents.ok()) << extents.status().ToString();
  EXPECT_THAT(*extents, ElementsAre(DataExtent{1 * kMiB, 4096}, DataExtent{5 * kMiB, 4096}));
  char tail[16];
  ASSERT_EQ(pread(fd, tail, sizeof(tail), 8 * kMiB - sizeof(tail)), 16);
  EXPECT_EQ(std::string(tail, sizeof(tail)), std::string(16, '\0'));
  close(fd);
}

TEST_F(NodeWriterTest, SetSizeErrors) {
  EXPECT_EQ(PunchHolesAndSetSize(-1, 10).code(), StatusCode::kUnknown);
  int fd = openat(dir_.fd(), "f", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(PunchHolesAndSetSize(fd, uint64_t{1} << 63).code(), StatusCode::kInvalidArgument);
  close(fd);
}

}  // namespace
}  // namespace pxb
