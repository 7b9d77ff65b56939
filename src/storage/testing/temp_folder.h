// TempFolder: a fresh folder under the system temporary folder, removed with
// everything in it when the object is destroyed.
//
//   TempFolder folder;
//   LocalBackend backend(folder.path() + "/repo");
//
// Thread-safety: path() may be called concurrently; the folder's contents
// are the test's business.
#pragma once

#include <string>

namespace pxb {

class TempFolder {
 public:
  TempFolder();
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  ~TempFolder();

  // The absolute path, or "" if creating the folder failed.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pxb
