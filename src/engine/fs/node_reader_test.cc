#include "engine/fs/node_reader.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/fs/testing/temp_dir.h"

namespace pxb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr uint64_t kMiB = 1 << 20;

class NodeReaderTest : public ::testing::Test {
 protected:
  // Creates `name` with `content` and returns an open read-write fd to it.
  int CreateFile(const std::string& name, const std::string& content = "") {
    int fd = openat(dir_.fd(), name.c_str(), O_CREAT | O_RDWR | O_EXCL | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0) << name << ": " << std::strerror(errno);
    if (!content.empty()) {
      EXPECT_EQ(pwrite(fd, content.data(), content.size(), 0),
                static_cast<ssize_t>(content.size()));
    }
    fds_.push_back(fd);
    return fd;
  }

  Node Read(const std::string& name, NodeReadOptions options = {}) {
    StatusOr<Node> node = ReadNode(dir_.fd(), name, dir_.Path(name), names_, options);
    EXPECT_TRUE(node.ok()) << node.status().ToString();
    return node.ok() ? *std::move(node) : Node{};
  }

  struct stat Lstat(const std::string& name) {
    struct stat st {};
    EXPECT_EQ(fstatat(dir_.fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW), 0) << name;
    return st;
  }

  void TearDown() override {
    for (int fd : fds_) close(fd);
  }

  TempDir dir_;
  OwnerNames names_;
  std::vector<int> fds_;
};

TEST_F(NodeReaderTest, ReadsRegularFile) {
  CreateFile("a.txt", "hello world");
  ASSERT_EQ(fchmodat(dir_.fd(), "a.txt", 0640, 0), 0);
  struct stat st = Lstat("a.txt");

  Node node = Read("a.txt");
  EXPECT_EQ(node.name, "a.txt");
  EXPECT_EQ(node.type, NodeType::kFile);
  EXPECT_EQ(node.mode, 0640u);
  EXPECT_EQ(node.size, 11u);
  EXPECT_EQ(node.uid, st.st_uid);
  EXPECT_EQ(node.gid, st.st_gid);
  EXPECT_EQ(node.user, getpwuid(st.st_uid)->pw_name);
  EXPECT_EQ(node.group, getgrgid(st.st_gid)->gr_name);
  EXPECT_EQ(node.inode, st.st_ino);
  EXPECT_EQ(node.device, st.st_dev);
  EXPECT_EQ(node.nlink, 1u);
  EXPECT_EQ(node.rdev, 0u);
  EXPECT_EQ(node.mtime_ns, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
  EXPECT_EQ(node.atime_ns, st.st_atim.tv_sec * 1'000'000'000LL + st.st_atim.tv_nsec);
  EXPECT_EQ(node.ctime_ns, st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec);
  EXPECT_TRUE(node.link_target.empty());
  EXPECT_TRUE(node.extents.empty());
}

TEST_F(NodeReaderTest, ReadsDirectoryWithoutSize) {
  ASSERT_EQ(mkdirat(dir_.fd(), "sub", 0750), 0);
  Node node = Read("sub");
  EXPECT_EQ(node.type, NodeType::kDirectory);
  EXPECT_EQ(node.mode, 0750u);
  EXPECT_EQ(node.size, 0u);
  EXPECT_EQ(node.nlink, 2u);
}

TEST_F(NodeReaderTest, ReadsSymlinkWithoutFollowingIt) {
  CreateFile("target", "0123456789");
  ASSERT_EQ(symlinkat("target", dir_.fd(), "link"), 0);
  // The longest target Linux allows, dangling.
  std::string long_target(4095, 'x');
  ASSERT_EQ(symlinkat(long_target.c_str(), dir_.fd(), "long"), 0);

  Node link = Read("link");
  EXPECT_EQ(link.type, NodeType::kSymlink);
  EXPECT_EQ(link.link_target, "target");
  EXPECT_EQ(link.size, 0u);
  EXPECT_EQ(link.inode, Lstat("link").st_ino);
  EXPECT_NE(link.inode, Lstat("target").st_ino);
  EXPECT_EQ(Read("long").link_target, long_target);
}

// procfs reports st_size 0 for its symlinks, so the target length is unknown.
TEST_F(NodeReaderTest, ReadsSymlinkWhoseSizeIsNotReported) {
  int proc = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) GTEST_SKIP() << "no /proc";
  fds_.push_back(proc);
  struct stat st;
  ASSERT_EQ(fstatat(proc, "cwd", &st, AT_SYMLINK_NOFOLLOW), 0);
  ASSERT_EQ(st.st_size, 0);
  const std::string deep = dir_.Path(std::string(200, 'd'));
  ASSERT_EQ(mkdir(deep.c_str(), 0755), 0);
  char old_cwd[4096];
  ASSERT_NE(getcwd(old_cwd, sizeof(old_cwd)), nullptr);
  ASSERT_EQ(chdir(deep.c_str()), 0);
  StatusOr<Node> node = ReadNode(proc, "cwd", "/proc/self/cwd", names_, {});
  ASSERT_EQ(chdir(old_cwd), 0);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ(node->type, NodeType::kSymlink);
  EXPECT_EQ(node->link_target, deep);
}

TEST_F(NodeReaderTest, ReadsFifo) {
  ASSERT_EQ(mkfifoat(dir_.fd(), "fifo", 0600), 0);
  Node node = Read("fifo");  // must not block waiting for a writer
  EXPECT_EQ(node.type, NodeType::kFifo);
  EXPECT_EQ(node.mode, 0600u);
}

TEST_F(NodeReaderTest, ReadsCharAndBlockDevices) {
  if (mknodat(dir_.fd(), "null", S_IFCHR | 0666, makedev(1, 3)) != 0) {
    GTEST_SKIP() << "mknod not permitted: " << std::strerror(errno);
  }
  ASSERT_EQ(mknodat(dir_.fd(), "loop", S_IFBLK | 0600, makedev(7, 200)), 0);
  ASSERT_EQ(fchmodat(dir_.fd(), "loop", 0660, 0), 0);  // past the umask
  Node chr = Read("null");
  EXPECT_EQ(chr.type, NodeType::kCharDevice);
  EXPECT_EQ(chr.rdev, makedev(1, 3));
  Node blk = Read("loop");
  EXPECT_EQ(blk.type, NodeType::kBlockDevice);
  EXPECT_EQ(blk.rdev, makedev(7, 200));
  EXPECT_EQ(blk.mode, 0660u);
}

TEST_F(NodeReaderTest, ReadsSocket) {
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  fds_.push_back(sock);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = dir_.Path("sock");
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(Read("sock").type, NodeType::kSocket);
}

TEST_F(NodeReaderTest, KeepsSetuidSetgidAndStickyBits) {
  CreateFile("suid");
  ASSERT_EQ(fchmodat(dir_.fd(), "suid", 04755, 0), 0);
  ASSERT_EQ(mkdirat(dir_.fd(), "shared", 0755), 0);
  ASSERT_EQ(fchmodat(dir_.fd(), "shared", 03777, 0), 0);
  EXPECT_EQ(Read("suid").mode, 04755u);
  EXPECT_EQ(Read("shared").mode, 03777u);
}

TEST_F(NodeReaderTest, ReadsNanosecondAndPreEpochTimes) {
  CreateFile("t");
  timespec times[2] = {{1'700'000'000, 123'456'789}, {-2, 499'999'999}};
  ASSERT_EQ(utimensat(dir_.fd(), "t", times, 0), 0);
  Node node = Read("t");
  EXPECT_EQ(node.atime_ns, 1'700'000'000'123'456'789LL);
  EXPECT_EQ(node.mtime_ns, -1'500'000'001LL);
}

TEST_F(NodeReaderTest, ReadsBinaryXattrsSortedByName) {
  int fd = CreateFile("x");
  const std::string binary("\0\xff\x01\0", 4);
  const std::string large(3000, 'v');
  ASSERT_EQ(fsetxattr(fd, "user.zeta", "z", 1, 0), 0);
  ASSERT_EQ(fsetxattr(fd, "user.alpha", binary.data(), binary.size(), 0), 0);
  ASSERT_EQ(fsetxattr(fd, "user.empty", "", 0, 0), 0);
  ASSERT_EQ(fsetxattr(fd, "user.large", large.data(), large.size(), 0), 0);

  EXPECT_THAT(Read("x").xattrs, ElementsAre(Pair("user.alpha", binary), Pair("user.empty", ""),
                                            Pair("user.large", large), Pair("user.zeta", "z")));
  EXPECT_TRUE(Read("x", {.xattrs = false, .acls = true}).xattrs.empty());
}

TEST_F(NodeReaderTest, ReadsXattrsOfDirectories) {
  ASSERT_EQ(mkdirat(dir_.fd(), "d", 0755), 0);
  ASSERT_EQ(setxattr(dir_.Path("d").c_str(), "user.tag", "v", 1, 0), 0);
  EXPECT_THAT(Read("d").xattrs, ElementsAre(Pair("user.tag", "v")));
}

TEST_F(NodeReaderTest, ReadsXattrsOfTheSymlinkNotItsTarget) {
  CreateFile("target");
  ASSERT_EQ(setxattr(dir_.Path("target").c_str(), "user.target", "t", 1, 0), 0);
  ASSERT_EQ(symlinkat("target", dir_.fd(), "link"), 0);
  // user.* is not allowed on symlinks; trusted.* is, for root.
  if (lsetxattr(dir_.Path("link").c_str(), "trusted.pxb", "s", 1, 0) != 0) {
    EXPECT_TRUE(Read("link").xattrs.empty());
    GTEST_SKIP() << "trusted xattrs not permitted: " << std::strerror(errno);
  }
  EXPECT_THAT(Read("link").xattrs, ElementsAre(Pair("trusted.pxb", "s")));
}

// Runs setfacl; false if the tool is missing or refuses.
bool SetFacl(const std::string& args) {
  return std::system(("setfacl " + args + " 2>/dev/null").c_str()) == 0;
}

TEST_F(NodeReaderTest, MovesPosixAclsOutOfXattrs) {
  ASSERT_EQ(mkdirat(dir_.fd(), "d", 0755), 0);
  ASSERT_EQ(setxattr(dir_.Path("d").c_str(), "user.keep", "k", 1, 0), 0);
  if (!SetFacl("-m u:1234:rwx,g:2345:r -m d:u:1234:rx " + dir_.Path("d"))) {
    GTEST_SKIP() << "setfacl not available or ACLs not supported";
  }
  Node node = Read("d");
  EXPECT_THAT(node.xattrs, ElementsAre(Pair("user.keep", "k")));
  // The kernel encoding: a little-endian version 2 header, then 8-byte entries.
  ASSERT_GE(node.acl_access.size(), 4u);
  EXPECT_EQ(node.acl_access.substr(0, 4), std::string("\x02\0\0\0", 4));
  EXPECT_EQ((node.acl_access.size() - 4) % 8, 0u);
  ASSERT_GE(node.acl_default.size(), 4u);
  EXPECT_EQ(node.acl_default.substr(0, 4), std::string("\x02\0\0\0", 4));
  std::string raw(node.acl_access.size(), '\0');
  ASSERT_EQ(getxattr(dir_.Path("d").c_str(), "system.posix_acl_access", raw.data(), raw.size()),
            static_cast<ssize_t>(raw.size()));
  EXPECT_EQ(node.acl_access, raw);

  Node acls_only = Read("d", {.xattrs = false, .acls = true});
  EXPECT_TRUE(acls_only.xattrs.empty());
  EXPECT_EQ(acls_only.acl_access, node.acl_access);
  Node xattrs_only = Read("d", {.xattrs = true, .acls = false});
  EXPECT_THAT(xattrs_only.xattrs, ElementsAre(Pair("user.keep", "k")));
  EXPECT_TRUE(xattrs_only.acl_access.empty());
  EXPECT_TRUE(xattrs_only.acl_default.empty());
}

TEST_F(NodeReaderTest, ReadsNamesThatAreNotUtf8) {
  const std::string name = "\xff\xfe.bin";
  int fd = CreateFile(name, "data");
  ASSERT_EQ(fsetxattr(fd, "user.a", "1", 1, 0), 0);
  Node node = Read(name);
  EXPECT_EQ(node.name, name);
  EXPECT_EQ(node.size, 4u);
  EXPECT_THAT(node.xattrs, ElementsAre(Pair("user.a", "1")));
}

TEST_F(NodeReaderTest, HardLinksShareInodeAndDevice) {
  CreateFile("first", "x");
  ASSERT_EQ(linkat(dir_.fd(), "first", dir_.fd(), "second", 0), 0);
  Node first = Read("first");
  Node second = Read("second");
  EXPECT_EQ(first.inode, second.inode);
  EXPECT_EQ(first.device, second.device);
  EXPECT_EQ(first.nlink, 2u);
  EXPECT_EQ(second.nlink, 2u);
}

TEST_F(NodeReaderTest, MissingEntryIsNotFoundAndNamesThePath) {
  StatusOr<Node> node = ReadNode(dir_.fd(), "gone", "shown/as/gone", names_, {});
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(std::string(node.status().message()), HasSubstr("shown/as/gone"));
}

TEST_F(NodeReaderTest, RejectsNamesThatAreNotOneComponent) {
  for (const std::string name : {"", "a/b", "/etc"}) {
    StatusOr<Node> node = ReadNode(dir_.fd(), name, name, names_, {});
    ASSERT_FALSE(node.ok()) << name;
    EXPECT_EQ(node.status().code(), StatusCode::kInvalidArgument) << name;
  }
}

TEST_F(NodeReaderTest, OwnerNamesLookUpBothWays) {
  EXPECT_EQ(names_.UserName(0), "root");
  EXPECT_EQ(names_.GroupName(0), "root");
  EXPECT_EQ(names_.UidOf("root"), 0u);
  EXPECT_EQ(names_.GidOf("root"), 0u);
  if (passwd* daemon = getpwnam("daemon")) {
    EXPECT_EQ(names_.UidOf("daemon"), daemon->pw_uid);
    EXPECT_EQ(names_.UserName(daemon->pw_uid), "daemon");
  }
  ASSERT_EQ(getpwuid(4'242'421), nullptr);
  EXPECT_EQ(names_.UserName(4'242'421), "");
  EXPECT_EQ(names_.GroupName(4'242'421), "");
  EXPECT_EQ(names_.UidOf("pxb-no-such-user"), std::nullopt);
  EXPECT_EQ(names_.GidOf("pxb-no-such-group"), std::nullopt);
  EXPECT_EQ(names_.UidOf(""), std::nullopt);
  // Cached answers stay the same.
  EXPECT_EQ(names_.UserName(4'242'421), "");
  EXPECT_EQ(names_.UidOf("root"), 0u);
}

TEST_F(NodeReaderTest, OwnerNamesIsSafeToShare) {
  // getpwuid is not thread-safe, so the expected names are found first.
  std::vector<std::string> expected;
  for (uint32_t id = 0; id < 4; ++id) {
    passwd* entry = getpwuid(id);
    expected.push_back(entry ? entry->pw_name : "");
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        uint32_t id = static_cast<uint32_t>((i + t) % 4);
        if (names_.UserName(id) != expected[id]) ++wrong;
        if (names_.UidOf("root") != 0u) ++wrong;
        if (names_.GroupName(0) != "root") ++wrong;
        if (names_.GidOf("pxb-no-such-group").has_value()) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(NodeReaderTest, FindsDataAndHolesOfSparseFile) {
  int fd = CreateFile("sparse");
  ASSERT_EQ(ftruncate(fd, 8 * kMiB), 0);
  const std::string block(4096, 'x');
  ASSERT_EQ(pwrite(fd, block.data(), block.size(), 1 * kMiB), 4096);
  ASSERT_EQ(pwrite(fd, block.data(), block.size(), 5 * kMiB), 4096);

  StatusOr<std::vector<DataExtent>> extents = FindDataExtents(fd, 8 * kMiB);
  ASSERT_TRUE(extents.ok()) << extents.status().ToString();
  ASSERT_EQ(extents->size(), 2u);
  // Extents cover the written blocks and leave the holes between them out.
  const DataExtent& a = (*extents)[0];
  const DataExtent& b = (*extents)[1];
  EXPECT_LE(a.offset, 1 * kMiB);
  EXPECT_GE(a.offset + a.length, 1 * kMiB + 4096);
  EXPECT_LT(a.offset + a.length, 5 * kMiB);
  EXPECT_GT(a.offset, 0u);
  EXPECT_LE(b.offset, 5 * kMiB);
  EXPECT_GE(b.offset + b.length, 5 * kMiB + 4096);
  EXPECT_LT(b.offset + b.length, 8 * kMiB);
  // On 4 KiB-block file systems (ext4, xfs, tmpfs) they are exact.
  EXPECT_EQ(a, (DataExtent{1 * kMiB, 4096}));
  EXPECT_EQ(b, (DataExtent{5 * kMiB, 4096}));
}

TEST_F(NodeReaderTest, ClipsExtentsToTheGivenSize) {
  int fd = CreateFile("sparse");
  ASSERT_EQ(ftruncate(fd, 8 * kMiB), 0);
  const std::string block(4096, 'x');
  ASSERT_EQ(pwrite(fd, block.data(), block.size(), 1 * kMiB), 4096);
  ASSERT_EQ(pwrite(fd, block.data(), block.size(), 5 * kMiB), 4096);
  StatusOr<std::vector<DataExtent>> extents = FindDataExtents(fd, 1 * kMiB + 100);
  ASSERT_TRUE(extents.ok()) << extents.status().ToString();
  EXPECT_THAT(*extents, ElementsAre(DataExtent{1 * kMiB, 100}));
}

TEST_F(NodeReaderTest, DenseFileIsOneExtent) {
  int fd = CreateFile("dense", std::string(10000, 'd'));
  StatusOr<std::vector<DataExtent>> extents = FindDataExtents(fd, 10000);
  ASSERT_TRUE(extents.ok()) << extents.status().ToString();
  EXPECT_THAT(*extents, ElementsAre(DataExtent{0, 10000}));
}

TEST_F(NodeReaderTest, DataAfterLeadingHole) {
  int fd = CreateFile("tail");
  const std::string block(4096, 't');
  ASSERT_EQ(pwrite(fd, block.data(), block.size(), 2 * kMiB), 4096);
  StatusOr<std::vector<DataExtent>> extents = FindDataExtents(fd, 2 * kMiB + 4096);
  ASSERT_TRUE(extents.ok()) << extents.status().ToString();
  EXPECT_THAT(*extents, ElementsAre(DataExtent{2 * kMiB, 4096}));
}

TEST_F(NodeReaderTest, AllHoleAndEmptyFilesHaveNoExtents) {
  int holes = CreateFile("holes");
  ASSERT_EQ(ftruncate(holes, 4 * kMiB), 0);
  StatusOr<std::vector<DataExtent>> extents = FindDataExtents(holes, 4 * kMiB);
  ASSERT_TRUE(extents.ok()) << extents.status().ToString();
  EXPECT_TRUE(extents->empty());

  int empty = CreateFile("empty");
  extents = FindDataExtents(empty, 0);
  ASSERT_TRUE(extents.ok()) << extents.status().ToString();
  EXPECT_TRUE(extents->empty());
}

TEST_F(NodeReaderTest, FileThatShrankEndsEarly) {
  int fd = CreateFile("shrunk", std::string(4096, 's'));
  StatusOr<std::vector<DataExtent>> extents = FindDataExtents(fd, 1 * kMiB);
  ASSERT_TRUE(extents.ok()) << extents.status().ToString();
  EXPECT_THAT(*extents, ElementsAre(DataExtent{0, 4096}));
}

}  // namespace
}  // namespace pxb
