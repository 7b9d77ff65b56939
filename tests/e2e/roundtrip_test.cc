// Back up a tree holding every kind of file and metadata, restore it, and
// compare both trees with rsync and bsdtar mtree listings.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "testing/e2e.h"

namespace pxb::e2e {
namespace {

void Check(int rc, const std::string& what) {
  ASSERT_EQ(rc, 0) << what << ": " << std::strerror(errno);
}

void SetTimes(const std::string& path, int64_t sec, long nsec) {
  timespec times[2] = {{sec, nsec}, {sec, nsec}};
  Check(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), "utimensat " + path);
}

void Sh(const std::string& command) {
  RunResult r = Shell(command);
  ASSERT_EQ(r.exit_code, 0) << command << ": " << r.Describe();
}

// Returns false if device nodes may not be created here.
bool MakeTree(const std::string& s, std::mt19937_64& rng) {
  MakeDirs(s + "/dir/sub/deep");
  MakeDirs(s + "/other");
  MakeDirs(s + "/empty_dir");

  // Regular files.
  WriteFile(s + "/empty", "");
  WriteFile(s + "/small", "small file\n");
  WriteFile(s + "/dir/random", RandomData(rng, 5 * 1024 * 1024 + 123));
  std::string compressible;
  while (compressible.size() < 4 * 1024 * 1024) compressible += "all work and no play ";
  WriteFile(s + "/dir/sub/compressible", compressible);
  WriteFile(s + "/dir/sub/deep/leaf", "leaf");

  // Symlinks.
  Check(::symlink("small", (s + "/rel_link").c_str()), "symlink");
  Check(::symlink("../dir/random", (s + "/other/up_link").c_str()), "symlink");
  Check(::symlink("/etc/hostname", (s + "/abs_link").c_str()), "symlink");
  Check(::symlink("does/not/exist", (s + "/dangling").c_str()), "symlink");

  // Hard links: two names in one folder, three across folders.
  WriteFile(s + "/h2a", "two links");
  Check(::link((s + "/h2a").c_str(), (s + "/h2b").c_str()), "link");
  WriteFile(s + "/dir/h3a", "three links");
  Check(::link((s + "/dir/h3a").c_str(), (s + "/other/h3b").c_str()), "link");
  Check(::link((s + "/dir/h3a").c_str(), (s + "/dir/sub/h3c").c_str()), "link");

  // Special files.
  Check(::mkfifo((s + "/fifo").c_str(), 0640), "mkfifo");
  bool devices = ::mknod((s + "/char_dev").c_str(), S_IFCHR | 0620, makedev(1, 3)) == 0 &&
                 ::mknod((s + "/block_dev").c_str(), S_IFBLK | 0640, makedev(7, 42)) == 0;

  // Modes.
  WriteFile(s + "/setuid", "#!/bin/sh\n");
  Check(::chmod((s + "/setuid").c_str(), 04755), "chmod");
  WriteFile(s + "/setgid", "x");
  Check(::chmod((s + "/setgid").c_str(), 02750), "chmod");
  MakeDirs(s + "/sticky");
  Check(::chmod((s + "/sticky").c_str(), 01777), "chmod");
  WriteFile(s + "/no_access", "root reads it anyway");
  Check(::chmod((s + "/no_access").c_str(), 0), "chmod");
  WriteFile(s + "/odd_mode", "x");
  Check(::chmod((s + "/odd_mode").c_str(), 0461), "chmod");

  // Owners: unnamed ids and an existing user and group.
  WriteFile(s + "/owned_numeric", "x");
  Check(::chown((s + "/owned_numeric").c_str(), 1234, 5678), "chown");
  Check(::lchown((s + "/dangling").c_str(), 1234, 5678), "lchown");
  const passwd* daemon_user = ::getpwnam("daemon");
  const group* bin_group = ::getgrnam("bin");
  WriteFile(s + "/owned_named", "x");
  Check(::chown((s + "/owned_named").c_str(), daemon_user ? daemon_user->pw_uid : 1,
                bin_group ? bin_group->gr_gid : 2),
        "chown");
  WriteFile(s + "/dir/setuid_owned", "x");
  Check(::chown((s + "/dir/setuid_owned").c_str(), 1234, 5678), "chown");
  Check(::chmod((s + "/dir/setuid_owned").c_str(), 06711), "chmod");

  // Extended attributes, binary values included, on a file and a folder.
  WriteFile(s + "/xattrs", "x");
  const std::string binary("\x00\xff\x10\xfe\x00\x01", 6);
  Check(::lsetxattr((s + "/xattrs").c_str(), "user.text", "hello", 5, 0), "setxattr");
  Check(::lsetxattr((s + "/xattrs").c_str(), "user.binary", binary.data(), binary.size(), 0),
        "setxattr");
  Check(::lsetxattr((s + "/xattrs").c_str(), "user.empty", "", 0, 0), "setxattr");
  Check(::lsetxattr((s + "/dir").c_str(), "user.on_dir", "d", 1, 0), "setxattr");

  // POSIX ACLs: access ACLs on a file and a folder, a default ACL on a folder.
  WriteFile(s + "/acl_file", "x");
  Sh("setfacl -m u:1234:rw,g:5678:r,m::rw '" + s + "/acl_file'");
  MakeDirs(s + "/acl_dir");
  Sh("setfacl -m u:1234:rx '" + s + "/acl_dir' && setfacl -d -m u:1234:rwx,g::rx '" + s +
     "/acl_dir'");
  WriteFile(s + "/acl_dir/inherits", "x");

  // A sparse file: 100 MiB with a few data regions.
  {
    int fd = ::open((s + "/sparse").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    Check(fd < 0 ? -1 : 0, "open sparse");
    Check(::ftruncate(fd, 100 << 20), "ftruncate");
    const std::string block = RandomData(rng, 8192);
    for (off_t at : {off_t{4096 * 3}, off_t{50} << 20, (off_t{100} << 20) - 1000}) {
      Check(::pwrite(fd, block.data(), 1000, at) == 1000 ? 0 : -1, "pwrite");
    }
    ::close(fd);
  }

  // Names that are not UTF-8, and names with spaces and newlines.
  WriteFile(s + "/bad\xff\xfe"
                "name",
            "not utf-8");
  MakeDirs(s + "/dir\xff");
  WriteFile(s + "/dir\xff/inside", "x");
  WriteFile(s + "/with space", "x");
  WriteFile(s + "/new\nline", "x");
  WriteFile(s + "/-dash", "x");

  // Times with nanoseconds; touch(1) for one, utimensat for the others.
  Sh("touch -d '2001-02-03 04:05:06.123456789' '" + s + "/small'");
  SetTimes(s + "/dir/random", 1234567890, 987654321);
  SetTimes(s + "/rel_link", 1000000000, 5);
  SetTimes(s + "/fifo", 1500000000, 999999999);
  SetTimes(s + "/h2a", 1600000000, 1);
  // Folders last, deepest first, as adding entries changes their mtime.
  for (const char* d : {"/dir/sub/deep", "/dir/sub", "/dir\xff", "/dir", "/acl_dir", "/empty_dir",
                        "/sticky", "/other", ""}) {
    SetTimes(s + d, 1100000000, 123456789);
  }
  return devices;
}

TEST(RoundTripTest, EveryKindOfFileAndMetadata) {
  TempDir dir;
  const std::string src = dir.Path("src");
  MakeDirs(src);
  std::mt19937_64 rng(1);
  bool devices = MakeTree(src, rng);
  if (HasFatalFailure()) return;
  if (!devices) std::printf("note: mknod is not permitted here; no device nodes are tested\n");

  struct stat sparse_src;
  ASSERT_EQ(::stat((src + "/sparse").c_str(), &sparse_src), 0);
  const bool fs_sparse = sparse_src.st_blocks * 512 < (1 << 20);

  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  nlohmann::json summary = pxb.Backup({src});
  EXPECT_EQ(summary["partial"], false);
  EXPECT_EQ(summary["summary"]["errors"], 0);

  const std::string dst = dir.Path("dst");
  RunResult restored = pxb.Run({"--json", "restore", "latest", "--target", dst});
  ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
  EXPECT_EQ(JsonOfType(restored.out, "summary")["errors"], 0);

  // The snapshot holds src under its absolute path.
  const std::string copy = dst + src;
  EXPECT_TRUE(SameTree(src, copy));
  EXPECT_TRUE(FindFilesWithPrefix(dst, ".pxb-restore.").empty());

  struct stat sparse_dst;
  ASSERT_EQ(::stat((copy + "/sparse").c_str(), &sparse_dst), 0);
  EXPECT_EQ(sparse_dst.st_size, 100 << 20);
  if (fs_sparse) {
    EXPECT_LT(sparse_dst.st_blocks * 512, 1 << 20) << "the restored sparse file is not sparse";
  }
  if (devices) {
    struct stat dev;
    ASSERT_EQ(::lstat((copy + "/block_dev").c_str(), &dev), 0);
    EXPECT_TRUE(S_ISBLK(dev.st_mode));
    EXPECT_EQ(dev.st_rdev, makedev(7, 42));
  }
  char value[16];
  ssize_t n = ::lgetxattr((copy + "/xattrs").c_str(), "user.binary", value, sizeof(value));
  EXPECT_EQ(std::string(value, n > 0 ? n : 0), std::string("\x00\xff\x10\xfe\x00\x01", 6));

  RunResult check = pxb.Run({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();

  // A second restore over the first one finds everything in place.
  RunResult again = pxb.Run({"--json", "restore", "latest", "--target", dst});
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_EQ(JsonOfType(again.out, "summary")["files_restored"], 0) << again.out;
  EXPECT_TRUE(SameTree(src, copy));
}

}  // namespace
}  // namespace pxb::e2e
