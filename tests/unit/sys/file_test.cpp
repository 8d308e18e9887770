#include "sockkit/sys/file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "support/loopback.hpp"

namespace sockkit::sys {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> names_in(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ReplaceFile, WritesANewFileAndReplacesAnOldOneWhole) {
  test::TempDir dir;
  const auto path = dir.file("report.txt");
  std::error_code ec;
  replace_file(path, "first\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(read_file(path), "first\n");
  replace_file(path, "second\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(read_file(path), "second\n");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"report.txt"});
}

TEST(ReplaceFile, ASymlinkIsReplacedAndItsTargetNeverTouched) {
  test::TempDir dir;
  const auto victim = dir.file("victim.txt");
  std::ofstream(victim) << "important\n";
  const auto link = dir.file("p.txt");
  fs::create_symlink(victim, link);
  std::error_code ec;
  replace_file(link, "report\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(read_file(victim), "important\n");
  EXPECT_FALSE(fs::is_symlink(link));
  EXPECT_EQ(read_file(link), "report\n");
}

TEST(ReplaceFile, TheModeIsWhatAPlainCreateGives) {
  test::TempDir dir;
  const auto path = dir.file("report.txt");
  const mode_t old_mask = ::umask(027);
  std::error_code ec;
  replace_file(path, "x", ec);
  ::umask(old_mask);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(fs::status(path).permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
}

TEST(ReplaceFile, AFailureLeavesThePathAsItWasAndNoTemporaryFile) {
  test::TempDir dir;
  const auto folder = dir.file("a-folder");
  fs::create_directory(folder);
  std::ofstream(folder + "/inside") << "kept\n";
  std::error_code ec;
  replace_file(folder, "x", ec);  // rename cannot put a file over a folder
  EXPECT_TRUE(ec);
  EXPECT_TRUE(fs::is_directory(folder));
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"a-folder"});
  replace_file(dir.file("missing/report.txt"), "x", ec);
  EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
}

TEST(MakeTempDirectory, MakesANewPrivateFolderEachTime) {
  std::error_code ec;
  const auto first = make_temp_directory("sockkit-test", ec);
  ASSERT_FALSE(ec) << ec.message();
  const auto second = make_temp_directory("sockkit-test", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_NE(first, second);
  EXPECT_EQ(fs::status(first).permissions(), fs::perms::owner_all);
  fs::remove(first);
  fs::remove(second);
}

}  // namespace
}  // namespace sockkit::sys
